/**
 * Persisted CHAT throughput and latency on EchoCenter versus a bare Socket.IO relay, same workload.
 *
 *   node dist/bench/throughput.js [--workers 2] [--pairs 50] [--window 8] [--payload-kind string|object] [--payload 64]
 *                                 [--slice 1] [--slices 10] [--warmup-slices 2] [--db sqlite|postgres] [--no-local-id]
 *                                 [--only echocenter|relay] [--heap-compaction idle|off] [--node-flags="--max-semi-space-size=4"] [--profile DIR]
 *   node dist/bench/throughput.js --schedule sequential [--messages 40000] [--warmup 20] [--layout child|inproc]
 *   node dist/bench/throughput.js --rate 1000 [--duration 10]      fixed-rate latency (sequential schedule)
 *
 * By default both servers are up at once and the load, from `--workers` client processes, alternates
 * between them in slices of `--slice` seconds: every disturbance of the machine then hits both alike.
 * Prints figures; asserts nothing. Everything runs on 127.0.0.1 and stops by itself.
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { alternate, type TargetTotals } from './lib/alternation';
import { Args } from './lib/args';
import { createBenchDb } from './lib/db';
import { LoadWorkers } from './lib/load-workers';
import { describeLoad } from './lib/machine';
import { echoCenterPairs, relayPairs } from './lib/principals';
import { connectPairs, cpuPerMsg, disconnectPairs, measureSequential, type Measured } from './lib/sequential';
import { benchEnv, startFlags, startServerInProcess, startServerProcess, type ServerHandle, type ServerMode } from './lib/server';
import { ms, table } from './lib/stats';
import type { PairSpec, TargetName } from './throughput-worker';

const args = new Args();
const rate = args.has('rate') ? args.number('rate', 1000) : undefined;
const layout = args.choice('layout', ['child', 'inproc'] as const, 'child');
const opts = {
  db: args.choice('db', ['sqlite', 'postgres'] as const, 'sqlite'),
  // A fixed rate and a server inside this process only make sense one server at a time.
  schedule: rate || layout === 'inproc' ? 'sequential' : args.choice('schedule', ['alternate', 'sequential'] as const, 'alternate'),
  workers: args.number('workers', 2),
  pairs: args.number('pairs', 50),
  window: args.number('window', 8),
  payloadKind: args.choice('payload-kind', ['string', 'object'] as const, 'string'),
  payloadBytes: args.number('payload', 64),
  localIds: !args.has('no-local-id'),
  layout,
  only: args.choice('only', ['both', 'echocenter', 'relay'] as const, 'both'),
  sliceMs: args.number('slice', 1, true) * 1000,
  slices: args.number('slices', 10),
  warmupSlices: args.number('warmup-slices', 2),
  messages: args.number('messages', 40_000),
  rate,
  durationMs: args.number('duration', 10, true) * 1000,
  warmupPerSender: args.number('warmup', 20),
  timeoutMs: args.number('timeout', 280, true) * 1000,
  /** Writes V8 CPU profiles of the servers over the measured part into this directory. */
  profile: args.has('profile') ? args.string('profile', 'bench-profiles') : undefined,
  /** HEAP_COMPACTION of EchoCenter; unset: the server's default, as `npm start`. */
  heapCompaction: args.has('heap-compaction') ? args.choice('heap-compaction', ['idle', 'off'] as const, 'off') : undefined,
  /** Node/V8 flags for the server processes on top of those of `npm start` (`--layout child` only). */
  nodeFlags: args.string('node-flags', '').split(/\s+/).filter(Boolean),
};

interface Target {
  name: TargetName;
  label: string;
  server: ServerHandle;
  pairs: PairSpec[];
}

const cleanups: (() => Promise<void>)[] = [];

async function start(mode: ServerMode, env: Record<string, string> = {}): Promise<ServerHandle> {
  const server = opts.layout === 'child' ? await startServerProcess(mode, env, opts.nodeFlags) : await startServerInProcess(mode, env);
  cleanups.push(() => server.stop());
  return server;
}

async function echoCenter(): Promise<Target> {
  const db = await createBenchDb(opts.db);
  cleanups.push(() => db.drop());
  console.log(`database:  ${db.label}; SOCKET_RATE_LIMIT=1000000/s, LOG_LEVEL=warn, NODE_ENV=production`);
  const { env, adminPassword } = benchEnv(db.env, opts.heapCompaction ? { HEAP_COMPACTION: opts.heapCompaction } : {});
  const server = await start('echocenter', env);
  // Stopped before its database is dropped (cleanups run in reverse).
  return { name: 'echocenter', label: `EchoCenter (${db.kind})`, server, pairs: await echoCenterPairs(server.url, adminPassword, opts.pairs) };
}

async function relay(): Promise<Target> {
  return { name: 'relay', label: 'bare Socket.IO relay', server: await start('relay'), pairs: relayPairs(opts.pairs) };
}

/** Starts a CPU profile of every target; the returned function writes them. */
async function profileAll(targets: Target[]): Promise<(() => Promise<void>) | undefined> {
  if (!opts.profile) return undefined;
  const stops = await Promise.all(targets.map((t) => t.server.profile()));
  return async () => {
    mkdirSync(opts.profile!, { recursive: true });
    for (const [i, stop] of stops.entries()) {
      const file = join(opts.profile!, `throughput-${targets[i].server.mode}${opts.rate ? `-rate${opts.rate}` : ''}.cpuprofile`);
      await stop(file);
      console.log(`profile: ${file} (summary: node dist/bench/profile-summary.js ${file})`);
    }
  };
}

const pct = (micros: number, wallMs: number) => `${Math.round((micros / (wallMs * 1000)) * 100)}%`;
const refusedText = (r: Record<string, number>) => Object.entries(r).map(([code, n]) => `${code}:${n}`).join(' ') || '0';

async function runAlternating(targets: Target[]): Promise<void> {
  const workers = new LoadWorkers(opts.workers);
  cleanups.push(() => workers.stop());
  for (const t of targets) await workers.connect(t.name, t.server.url, t.pairs);
  const stopProfile = await profileAll(targets);
  const totals = await alternate(
    workers,
    targets.map((t) => ({ name: t.name, label: t.label, pid: t.server.pid })),
    { ...opts, drainMs: 30_000 },
  );
  await stopProfile?.();
  await printCompaction(targets);
  const rows = totals.map((t: TargetTotals) => [
    t.label,
    Math.round(t.msgsPerSec),
    `${Math.round(Math.min(...t.sliceRates))}-${Math.round(Math.max(...t.sliceRates))}`,
    ms(t.e2e.p50),
    ms(t.e2e.p99),
    ms(t.ack.p50),
    ms(t.ack.p99),
    pct(t.serverCpuMicros, t.wallMs),
    `${Math.round(t.cpuPerMsgMicros)} us`,
    targets.length > 1 ? pct(t.idleCpuMicros, t.idleWallMs) : 'n/a',
    pct(t.loadgenCpuMicros, t.wallMs),
    t.othersCpuMicros === undefined ? 'n/a' : pct(t.othersCpuMicros, t.wallMs),
    refusedText(t.refused) + (t.timedOut ? ' TIMED OUT' : ''),
  ]);
  console.log('');
  console.log(
    table([
      ['', 'msgs/s', 'slice min-max', 'e2e p50', 'e2e p99', 'ack p50', 'ack p99', 'server CPU', 'CPU/msg', 'idle CPU', 'loadgen CPU', 'others CPU', 'refused'],
      ...rows,
    ]),
  );
  console.log(`(msgs/s: delivered while the slices were sending, over their sending time; slice min-max: the same per slice;`);
  console.log(' e2e: send to receipt at the target socket; ack: send to the sender\'s ack, which EchoCenter gives after the commit;');
  console.log(' server CPU: its share of one core during its own slices (drain included), all threads (SQLite\'s too);');
  console.log(' CPU/msg: that CPU time per delivered message, the figure other load on the machine disturbs least;');
  console.log(' idle CPU: the server\'s share of a core while the other one had the load; loadgen: the workers and this process;');
  console.log(' others: every other process on the machine meanwhile: well above 0% means the figures are disturbed)');
  printRatio(totals.map((t) => ({ msgsPerSec: t.msgsPerSec, cpuPerMsg: t.cpuPerMsgMicros })));
}

/** One server at a time, as this bench used to run: the next one starts once the previous one stopped. */
async function runSequential(makers: (() => Promise<Target>)[]): Promise<void> {
  const results: Measured[] = [];
  for (const make of makers) {
    const t = await make();
    const pairs = await connectPairs(t.server.url, t.pairs);
    results.push(await measureSequential(t.label, t.server, pairs, { ...opts, inproc: opts.layout === 'inproc' }, () => profileAll([t])));
    await printCompaction([t]);
    disconnectPairs(pairs);
    await t.server.stop();
  }
  console.log('');
  console.log(
    table([
      ['', opts.rate ? 'delivered' : 'msgs/s', 'e2e p50', 'e2e p99', 'e2e max', 'ack p50', 'ack p99', 'server CPU', 'CPU/msg', 'loadgen CPU', 'others CPU', 'refused'],
      ...results.map((m) => {
        const r = m.result;
        return [
          m.label,
          opts.rate ? `${r.delivered}/${r.sent}` : Math.round(r.msgsPerSec),
          ms(r.e2e.p50),
          ms(r.e2e.p99),
          ms(r.e2e.max),
          ms(r.ack.p50),
          ms(r.ack.p99),
          `${Math.round(m.serverCpu * 100)}%`,
          `${Math.round(cpuPerMsg(m) * 1000)} us`,
          `${Math.round(m.loadCpu * 100)}%`,
          m.otherCpu === undefined ? 'n/a' : `${Math.round(m.otherCpu * 100)}%`,
          refusedText(Object.fromEntries(r.refused)) + (r.timedOut ? ' TIMED OUT' : ''),
        ];
      }),
    ]),
  );
  console.log('(e2e: send to receipt at the target socket; ack: send to the sender\'s ack, which EchoCenter gives after the commit;');
  console.log(' CPU: share of one core over the measured part; the server figure includes its SQLite/libuv threads;');
  console.log(' CPU/msg: server CPU time per delivered message, the figure least disturbed by other load;');
  console.log(' others: every other process on the machine meanwhile: well above 0% means the figures are disturbed)');
  if (opts.rate) console.log(`\ngoal: e2e p99 <= 20 ms at 1,000 msgs/s on one replica`);
  else printRatio(results.map((m) => ({ msgsPerSec: m.result.msgsPerSec, cpuPerMsg: cpuPerMsg(m) })));
}

/** What EchoCenter's heap compactor did during the run (it pauses the whole process when it runs). */
async function printCompaction(targets: Target[]): Promise<void> {
  const ec = targets.find((t) => t.name === 'echocenter');
  const state = ec && opts.layout === 'child' ? (await ec.server.stats()).heapCompaction : undefined;
  if (state) console.log(`heap compaction: ${state}`);
}

function printRatio(figures: { msgsPerSec: number; cpuPerMsg: number }[]): void {
  if (figures.length !== 2) return;
  const [persisted, bare] = figures;
  console.log(`machine after the run: ${describeLoad()}`);
  console.log(
    `\nratio persisted/bare: ${(persisted.msgsPerSec / bare.msgsPerSec).toFixed(2)} in msgs/s (goal on SQLite: >= 0.6); ` +
      `${(bare.cpuPerMsg / persisted.cpuPerMsg).toFixed(2)} in server CPU per message (bare/persisted)`,
  );
}

function describe(): void {
  const senders = opts.pairs * 2;
  const perSender = Math.max(1, Math.round(opts.messages / senders));
  const where =
    opts.layout === 'inproc'
      ? 'servers and load generator in ONE process (figures are pessimistic for both)'
      : opts.schedule === 'alternate'
        ? `each server in a child process (dist/bench/server-process.js), ${opts.only === 'both' ? 'both up for the whole run' : 'one server'}; load from ${opts.workers} worker processes (dist/bench/throughput-worker.js)`
        : 'each server in a child process, one after the other; load generator in this process';
  const payload = opts.payloadKind === 'string' ? `a string "<tag>|<t>|" + ${opts.payloadBytes} B` : `an object {tag, t, pad: ${opts.payloadBytes} B}`;
  console.log(`EchoCenter bench: persisted CHAT vs a bare Socket.IO relay (${new Date().toISOString()})`);
  console.log(`machine:   ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, ${describeLoad()}`);
  console.log(`layout:    ${where}`);
  console.log(`node:      server flags ${[...startFlags(), ...opts.nodeFlags].join(' ') || '(none)'} (npm start's, then --node-flags)`);
  console.log(`workload:  ${opts.pairs} member<->agent pairs, both directions (${senders} sending sockets), websocket transport, payload ${payload}, local_id ${opts.localIds ? 'set' : 'not set'}`);
  if (opts.rate) console.log(`mode:      fixed rate ${opts.rate} msgs/s in total for ${opts.durationMs / 1000} s, round-robin over the senders; latency from the scheduled send time`);
  else if (opts.schedule === 'sequential') console.log(`mode:      closed loop, window ${opts.window} un-acked messages per socket, ${perSender} messages per socket = ${perSender * senders} messages`);
  else {
    console.log(
      `mode:      closed loop, window ${opts.window} un-acked messages per socket, alternating between the servers in ${opts.sliceMs / 1000}-s slices ` +
        `(each slice stops sending, then waits for what is in flight); ${opts.slices} measured slices per server`,
    );
  }
  console.log(`warm-up:   ${opts.schedule === 'alternate' ? `${opts.warmupSlices} slices per server` : `${opts.warmupPerSender} messages per socket`} first, not counted`);
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nbench: over --timeout ${opts.timeoutMs / 1000}s, stopping\n`);
    void cleanup().finally(() => process.exit(2));
  }, opts.timeoutMs);
  describe();
  const makers = [...(opts.only !== 'relay' ? [echoCenter] : []), ...(opts.only !== 'echocenter' ? [relay] : [])];
  if (opts.schedule === 'alternate') {
    const targets: Target[] = [];
    for (const make of makers) targets.push(await make());
    await runAlternating(targets);
  } else await runSequential(makers);
  clearTimeout(watchdog);
}

async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
}

process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err) => {
    process.exitCode = 1;
    console.error(err instanceof Error ? err.stack : err);
  })
  .finally(() => void cleanup().then(() => process.exit()));
