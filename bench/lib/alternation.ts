import { cpus } from 'node:os';
import type { PayloadKind, TargetName } from '../throughput-worker';
import type { LoadWorkers } from './load-workers';
import { cpuTimes, processCpuMicros } from './machine';
import { Samples } from './stats';

/** A server that is up for the whole run and gets the load in its turn. */
export interface SlicedTarget {
  name: TargetName;
  label: string;
  pid: number;
}

export interface AlternationOptions {
  /** Measured slices per server, after `warmupSlices` each that are not counted. */
  slices: number;
  warmupSlices: number;
  sliceMs: number;
  /** How long a slice may wait for its in-flight messages after sending stopped. */
  drainMs: number;
  window: number;
  payloadKind: PayloadKind;
  payloadBytes: number;
  localIds: boolean;
}

/** What one server did over its measured slices. */
export interface TargetTotals {
  label: string;
  slices: number;
  /** Time spent in its slices: sending, then draining what was in flight. */
  wallMs: number;
  sent: number;
  delivered: number;
  /** Delivered while the slices were still sending: msgs/s is this over the sending time. */
  deliveredInTime: number;
  msgsPerSec: number;
  /** msgs/s of each slice, to show the spread. */
  sliceRates: number[];
  refused: Record<string, number>;
  e2e: ReturnType<Samples['summary']>;
  ack: ReturnType<Samples['summary']>;
  timedOut: boolean;
  /** Its own CPU time (all threads) during its slices, µs; per delivered message below. */
  serverCpuMicros: number;
  cpuPerMsgMicros: number;
  /** Its CPU time while the *other* servers had the load (timers, checkpoints, GC), µs, and over how long. */
  idleCpuMicros: number;
  idleWallMs: number;
  /** The load generator's CPU (workers and this process) during its slices, µs. */
  loadgenCpuMicros: number;
  /** Every other process on the machine during its slices, µs of CPU (undefined off Linux). */
  othersCpuMicros: number | undefined;
}

/**
 * Alternates the load between servers that are all up at once, in slices of `sliceMs`: E, R, E, R…
 * Each slice drives a closed loop from every worker, then lets the messages in flight arrive, so that
 * every message (and the CPU it cost) falls in its own server's slice. Server CPU is read from /proc
 * between slices, without asking the servers anything.
 */
export async function alternate(workers: LoadWorkers, targets: SlicedTarget[], o: AlternationOptions): Promise<TargetTotals[]> {
  const acc = new Map(targets.map((t) => [t.name, { t, e2e: new Samples(), ack: new Samples(), totals: emptyTotals(t.label) }]));
  const cpuOf = (pids: number[]) => pids.reduce((a, pid) => a + processCpuMicros(pid), 0);
  for (let round = 0; round < o.warmupSlices + o.slices; round++) {
    const measured = round >= o.warmupSlices;
    for (const active of targets) {
      const servers0 = targets.map((t) => processCpuMicros(t.pid));
      const load0 = cpuOf(workers.pids);
      const self0 = process.cpuUsage();
      const machine0 = cpuTimes();
      const t0 = performance.now();
      const slice = await workers.slice({
        target: active.name,
        ms: o.sliceMs,
        drainMs: o.drainMs,
        window: o.window,
        payloadKind: o.payloadKind,
        payloadBytes: o.payloadBytes,
        localIds: o.localIds,
      });
      const wallMs = performance.now() - t0;
      if (!measured) continue;
      const servers = targets.map((t, i) => processCpuMicros(t.pid) - servers0[i]);
      const self = process.cpuUsage(self0);
      const loadgen = cpuOf(workers.pids) - load0 + self.user + self.system;
      const machine1 = cpuTimes();
      const a = acc.get(active.name)!;
      const tot = a.totals;
      tot.slices++;
      tot.wallMs += wallMs;
      tot.sent += slice.sent;
      tot.delivered += slice.delivered;
      tot.deliveredInTime += slice.deliveredInTime;
      tot.sliceRates.push((slice.deliveredInTime / o.sliceMs) * 1000);
      for (const [code, n] of Object.entries(slice.refused)) tot.refused[code] = (tot.refused[code] ?? 0) + n;
      for (const v of slice.e2e) a.e2e.add(v);
      for (const v of slice.ack) a.ack.add(v);
      tot.timedOut ||= slice.timedOut;
      targets.forEach((t, i) => {
        if (t === active) tot.serverCpuMicros += servers[i];
        else {
          acc.get(t.name)!.totals.idleCpuMicros += servers[i];
          acc.get(t.name)!.totals.idleWallMs += wallMs;
        }
      });
      tot.loadgenCpuMicros += loadgen;
      if (machine0 && machine1 && machine1.total > machine0.total && tot.othersCpuMicros !== undefined) {
        const busyMicros = ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * cpus().length * wallMs * 1000;
        tot.othersCpuMicros += Math.max(0, busyMicros - servers.reduce((x, y) => x + y, 0) - loadgen);
      } else tot.othersCpuMicros = undefined;
    }
  }
  return targets.map((t) => {
    const a = acc.get(t.name)!;
    const tot = a.totals;
    tot.msgsPerSec = (tot.deliveredInTime / (tot.slices * o.sliceMs)) * 1000;
    tot.cpuPerMsgMicros = tot.serverCpuMicros / Math.max(1, tot.delivered);
    tot.e2e = a.e2e.summary();
    tot.ack = a.ack.summary();
    return tot;
  });
}

function emptyTotals(label: string): TargetTotals {
  const none = new Samples().summary();
  return {
    label,
    slices: 0,
    wallMs: 0,
    sent: 0,
    delivered: 0,
    deliveredInTime: 0,
    msgsPerSec: 0,
    sliceRates: [],
    refused: {},
    e2e: none,
    ack: none,
    timedOut: false,
    serverCpuMicros: 0,
    cpuPerMsgMicros: 0,
    idleCpuMicros: 0,
    idleWallMs: 0,
    loadgenCpuMicros: 0,
    othersCpuMicros: 0,
  };
}
