import type { PairSpec } from '../throughput-worker';
import { connectSocket, inParallel } from './clients';
import { MachineLoad } from './machine';
import type { ServerHandle } from './server';
import { Workload, type Pair, type RunResult } from './workload';

/**
 * The earlier schedule of bench/throughput.ts (`--schedule sequential`, and `--rate`): one server at a
 * time, the load generated in this process, a fixed number of messages (or a fixed rate).
 */
export interface SequentialOptions {
  window: number;
  messages: number;
  payloadBytes: number;
  payloadKind: 'string' | 'object';
  localIds: boolean;
  warmupPerSender: number;
  rate?: number;
  durationMs: number;
  /** The server shares this process (`--layout inproc`): its CPU is not the load generator's. */
  inproc: boolean;
}

export interface Measured {
  label: string;
  result: RunResult;
  serverCpu: number;
  loadCpu: number;
  /** Cores used by everything else on the machine meanwhile (other processes). */
  otherCpu: number | undefined;
}

/** Connects the pairs' sockets in this process. */
export async function connectPairs(url: string, specs: PairSpec[]): Promise<Pair[]> {
  return inParallel(specs, 20, async (p) => ({
    member: { id: p.member.id, socket: await connectSocket(url, '/chat', p.member.auth) },
    agent: { id: p.agent.id, socket: await connectSocket(url, '/agents', p.agent.auth) },
  }));
}

export function disconnectPairs(pairs: Pair[]): void {
  for (const p of pairs) {
    p.member.socket.disconnect();
    p.agent.socket.disconnect();
  }
}

/** Warms up, then measures one server with its and the load generator's CPU over the measured part. */
export async function measureSequential(
  label: string,
  server: ServerHandle,
  pairs: Pair[],
  o: SequentialOptions,
  profile?: () => Promise<(() => Promise<void>) | undefined>,
): Promise<Measured> {
  const load = new Workload(pairs, { payloadBytes: o.payloadBytes, localIds: o.localIds, payloadKind: o.payloadKind });
  await load.closedLoop(o.warmupPerSender, o.window, 60_000);
  const stopProfile = await profile?.();
  const before = await server.stats();
  const loadBefore = process.cpuUsage();
  const machine = new MachineLoad();
  const t = performance.now();
  const result = o.rate
    ? await load.fixedRate(o.rate, o.durationMs, o.durationMs + 30_000)
    : await load.closedLoop(Math.max(1, Math.round(o.messages / load.senderCount)), o.window, 120_000);
  const wall = (performance.now() - t) * 1000;
  const after = await server.stats();
  await stopProfile?.();
  const loadCpu = process.cpuUsage(loadBefore);
  const busy = machine.coresBusy();
  const serverCpu = (after.cpuMicros - before.cpuMicros) / wall;
  const ownLoadCpu = (loadCpu.user + loadCpu.system) / wall;
  return {
    label,
    result,
    serverCpu,
    loadCpu: ownLoadCpu,
    otherCpu: busy === undefined ? undefined : Math.max(0, busy - (o.inproc ? ownLoadCpu : serverCpu + ownLoadCpu)),
  };
}

export const cpuPerMsg = (m: Measured) => (m.serverCpu * m.result.elapsedMs) / Math.max(1, m.result.delivered);
