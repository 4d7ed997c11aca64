/**
 * Holds N distinct authenticated agents on `/agents` of one EchoCenter process, prints that process's
 * RSS before and after and per connection, then checks that agents are routable: an admin sends a CHAT
 * to a sample of them and the bench counts who received it.
 *
 *   node dist/bench/agents.js [--agents 20000] [--procs 4] [--addresses 4] [--sample 1000|all]
 *                             [--concurrency 50] [--db sqlite|postgres] [--target relay] [--settle 10]
 *                             [--timeout 290] [--profile DIR]
 *
 * Agents are seeded straight into a fresh database; the sockets live in --procs client processes
 * (dist/bench/agents-worker.js), bound round-robin to the loopback source addresses 127.0.0.2 … so
 * that no single address runs out of ephemeral ports. `--target relay` holds the same sockets on the
 * bare Socket.IO relay instead (no auth, no database): the baseline for the memory per connection.
 * Prints figures; asserts nothing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { WorkerEvent, WorkerRequest } from './agents-worker';
import { Args } from './lib/args';
import { connectSocket, login } from './lib/clients';
import { createBenchDb } from './lib/db';
import { describeLoad } from './lib/machine';
import { seedAgents } from './lib/seed-agents';
import { benchEnv, startServerProcess, type ServerHandle } from './lib/server';
import type { ServerStats } from './lib/server-stats';
import { kb, mb, ms, Samples, sleep } from './lib/stats';

const args = new Args();
const opts = {
  agents: args.number('agents', 20_000),
  procs: args.number('procs', 4),
  addresses: args.number('addresses', 4),
  sample: args.string('sample', '1000'),
  concurrency: args.number('concurrency', 50),
  db: args.choice('db', ['sqlite', 'postgres'] as const, 'sqlite'),
  target: args.choice('target', ['echocenter', 'relay'] as const, 'echocenter'),
  timeoutMs: args.number('timeout', 290, true) * 1000,
  settleMs: args.number('settle', 10, true) * 1000,
  /** Writes V8 CPU profiles of the server (connect phase, probe phase) into this directory. */
  profile: args.has('profile') ? args.string('profile', 'bench-profiles') : undefined,
};
const cleanups: (() => Promise<void>)[] = [];
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const log = (line: string) => console.log(`[${elapsed().padStart(6)}] ${line}`);

interface Worker {
  child: ChildProcess;
  progress: Extract<WorkerEvent, { type: 'progress' }>;
  send(req: WorkerRequest): Promise<void>;
  report(): Promise<Extract<WorkerEvent, { type: 'report' }>>;
}

function startWorker(): Worker {
  const child = fork(join(__dirname, 'agents-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const worker: Worker = {
    child,
    progress: { type: 'progress', connected: 0, failed: 0, errors: {}, done: false },
    send: (req) => new Promise((resolve, reject) => child.send(req, (err) => (err ? reject(err) : resolve()))),
    report: () =>
      new Promise((resolve) => {
        const onReport = (e: WorkerEvent) => {
          if (e.type !== 'report') return;
          child.off('message', onReport);
          resolve(e);
        };
        child.on('message', onReport);
        child.send({ cmd: 'report' } satisfies WorkerRequest);
      }),
  };
  child.on('message', (e: WorkerEvent) => {
    if (e.type === 'progress') worker.progress = e;
  });
  cleanups.push(async () => {
    if (child.connected) child.send({ cmd: 'exit' } satisfies WorkerRequest);
    await sleep(300);
    child.kill('SIGKILL');
  });
  return worker;
}

function memLine(label: string, s: ServerStats): string {
  return `${label}: RSS ${mb(s.rss)}, heap used ${mb(s.heapUsed)} of ${mb(s.heapTotal)}, open fds ${s.openFds} (limit ${s.fdLimit})`;
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nbench: over --timeout ${opts.timeoutMs / 1000}s, stopping\n`);
    void cleanup().finally(() => process.exit(2));
  }, opts.timeoutMs);
  const addresses = Array.from({ length: opts.addresses }, (_, i) => `127.0.0.${i + 2}`);
  console.log(`EchoCenter bench: ${opts.agents} agents on /agents of one server process (${new Date().toISOString()})`);
  console.log(`machine: ${cpus().length} CPUs, Node ${process.version}, ${describeLoad()}`);
  console.log(
    `layout:  server in a child process; agents in ${opts.procs} client processes, ${opts.concurrency} handshakes in flight each, ` +
      `source addresses ${addresses.join(', ')}; this process seeds, measures and probes`,
  );

  let server: ServerHandle;
  let agents: { id: number; token: string }[];
  let adminAuth: () => Promise<Record<string, unknown>>;
  if (opts.target === 'relay') {
    console.log('target:  the bare Socket.IO relay (no auth, no database, no presence): the baseline');
    agents = Array.from({ length: opts.agents }, (_, i) => ({ id: i + 1, token: '' }));
    server = await startServerProcess('relay');
    adminAuth = async () => ({ id: 1_000_000_000 });
  } else {
    const db = await createBenchDb(opts.db);
    cleanups.push(() => db.drop());
    const { env, adminPassword } = benchEnv(db.env);
    console.log(`database: ${db.label}`);
    agents = await seedAgents({ PATH: process.env.PATH ?? '', ...env }, opts.agents);
    log(`seeded ${agents.length} agents (users + machine_credentials rows, SHA-256 token hashes)`);
    server = await startServerProcess('echocenter', env);
    adminAuth = async () => ({ token: (await login(server.url, 'admin', adminPassword)).token });
  }
  // Killed, not stopped: a graceful close of thousands of agents is not what this bench measures.
  cleanups.push(async () => server.kill());
  if (opts.profile) mkdirSync(opts.profile, { recursive: true });
  const profile = async (name: string) => {
    if (!opts.profile) return async () => undefined;
    const stop = await server.profile();
    return async () => {
      await stop(join(opts.profile!, `${name}.cpuprofile`));
      log(`wrote ${join(opts.profile!, `${name}.cpuprofile`)} (summary: node dist/bench/profile-summary.js FILE)`);
    };
  };
  await server.stats(true);
  await sleep(opts.settleMs); // the same idle period as after connecting (see below)
  const before = await server.stats(true);
  log(`server pid ${server.pid} at ${server.url}`);
  log(memLine('before', before));
  // Every socket is a descriptor of the one server process, next to the ~20-25 it holds anyway.
  const softLimit = Number(/^(\d+)/.exec(before.fdLimit)?.[1]);
  if (softLimit && opts.agents + before.openFds + 5 > softLimit) {
    log(
      `WARNING: the server may hold about ${softLimit - before.openFds - 5} sockets: its descriptor limit is ${before.fdLimit} ` +
        `and ${before.openFds} are in use; expect the last ~${opts.agents + before.openFds + 5 - softLimit} handshakes to fail ` +
        `(raise the hard limit, e.g. LimitNOFILE= or ulimit -Hn as root with CAP_SYS_RESOURCE, to go further)`,
    );
  }

  const procs = Math.min(opts.procs, agents.length);
  const workers = Array.from({ length: procs }, () => startWorker());
  const share = Math.ceil(agents.length / procs);
  const stopConnectProfile = await profile(`agents-${opts.target}-connect`);
  const connectStart = performance.now();
  await Promise.all(
    workers.map((w, k) =>
      w.send({ cmd: 'connect', url: server.url, agents: agents.slice(k * share, (k + 1) * share), addresses, concurrency: opts.concurrency }),
    ),
  );
  let last = 0;
  for (;;) {
    await sleep(2000);
    const connected = workers.reduce((a, w) => a + w.progress.connected, 0);
    const failed = workers.reduce((a, w) => a + w.progress.failed, 0);
    log(`connected ${connected}, failed ${failed}, ${Math.round((connected - last) / 2)} handshakes/s`);
    last = connected;
    if (workers.every((w) => w.progress.done)) break;
    // Leave time for the memory figures and the routability probe within --timeout.
    if (performance.now() - t0 > opts.timeoutMs - 70_000) {
      log('connect phase out of time (see --timeout); measuring what is connected now');
      await Promise.all(workers.map((w) => w.send({ cmd: 'halt' })));
      await sleep(2000);
      break;
    }
  }
  const connectSecs = (performance.now() - connectStart) / 1000;
  await stopConnectProfile();
  const connectCpu = ((await server.stats()).cpuMicros - before.cpuMicros) / 1e6 / connectSecs;
  const connected = workers.reduce((a, w) => a + w.progress.connected, 0);
  const failed = workers.reduce((a, w) => a + w.progress.failed, 0);
  const errors: Record<string, number> = {};
  for (const w of workers) for (const [k, v] of Object.entries(w.progress.errors)) errors[k] = (errors[k] ?? 0) + v;

  await sleep(2000); // let presence work settle
  const justAfter = await server.stats(true);
  log(memLine('after ', justAfter));
  // V8 gives back the pages that the handshakes' garbage left behind only once allocation has been
  // quiet for a while (its memory reducer): measure again after an idle period, which is the steady state.
  await sleep(opts.settleMs);
  const after = await server.stats(true);
  log(memLine(`after ${opts.settleMs / 1000}s idle`, after));
  const perConn = connected ? (after.rss - before.rss) / connected : NaN;
  const heapPerConn = connected ? (after.heapUsed - before.heapUsed) / connected : NaN;

  // Routability: an admin on /chat sends one CHAT to each agent of a sample; workers count receipts.
  const reports0 = await Promise.all(workers.map((w) => w.report()));
  const alreadyGone = reports0.reduce((a, r) => a + r.disconnected, 0);
  const connectedIds = reports0.flatMap((r) => r.connectedIds);
  const sampleSize = opts.sample === 'all' ? connectedIds.length : Math.min(connectedIds.length, Number(opts.sample) || 1000);
  const sample = shuffle(connectedIds).slice(0, sampleSize);
  const tag = `probe-${Date.now()}`;
  await Promise.all(workers.map((w) => w.send({ cmd: 'probe', tag })));
  const adminSocket = await connectSocket(server.url, '/chat', await adminAuth());
  cleanups.push(async () => void adminSocket.disconnect());
  const stopProbeProfile = await profile(`agents-${opts.target}-probe`);
  const probeStart = performance.now();
  const refused: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < sample.length) {
        const target = sample[next++];
        const ack = (await adminSocket
          .timeout(30_000)
          .emitWithAck('message', { type: 'CHAT', target_id: target, payload: { probe: tag, t: performance.timeOrigin + performance.now() } })
          .catch(() => ({ ok: false, code: 'ACK_TIMEOUT' }))) as { ok: boolean; code?: string };
        if (!ack.ok) refused[ack.code ?? '?'] = (refused[ack.code ?? '?'] ?? 0) + 1;
      }
    }),
  );
  const ackedSecs = (performance.now() - probeStart) / 1000;
  await stopProbeProfile();
  const sampleSet = new Set(sample);
  let reached = 0;
  const latency = new Samples();
  for (let waited = 0; waited < 15_000; waited += 500) {
    const reports = await Promise.all(workers.map((w) => w.report()));
    reached = 0;
    for (const r of reports) r.reached.forEach((id) => sampleSet.has(id) && reached++);
    if (reached >= sample.length || waited >= 15_000 - 500) {
      for (const r of reports) r.latencies.forEach((l) => latency.add(l));
      break;
    }
    await sleep(500);
  }
  const lat = latency.summary();

  console.log('');
  console.log(`agents:          ${connected} of ${opts.agents} connected in ${connectSecs.toFixed(1)} s (${Math.round(connected / connectSecs)} handshakes/s, server CPU ${Math.round(connectCpu * 100)}% of a core), ${failed} failed`);
  if (failed) console.log(`  failures:      ${JSON.stringify(errors)}`);
  if (failed && softLimit && after.openFds >= softLimit - 10) {
    console.log(`  cause:         the server process is at its descriptor limit (${after.openFds} open of ${before.fdLimit}): one per socket`);
  }
  if (alreadyGone) console.log(`  disconnected after connecting: ${alreadyGone}`);
  console.log(`  server sees:   ${after.sockets} sockets; /agents by source address ${JSON.stringify(after.agentsByAddress)}`);
  console.log(`  server fds:    ${after.openFds} open, limit ${after.fdLimit} (one per socket, plus the listener, the database and stdio)`);
  console.log(
    `server RSS:      ${mb(before.rss)} before, ${mb(justAfter.rss)} just after connecting, ${mb(after.rss)} after ${opts.settleMs / 1000} s idle` +
      ` (before: also after ${opts.settleMs / 1000} s idle; a full GC before each)`,
  );
  console.log(`JS heap:         ${mb(before.heapUsed)} used of ${mb(before.heapTotal)} before, ${mb(after.heapUsed)} used of ${mb(after.heapTotal)} after`);
  console.log(`per connection:  ${kb(perConn)} RSS, ${kb(heapPerConn)} JS heap`);
  console.log(`  at 20,000:     ~${mb(before.rss + perConn * 20_000)} RSS (goal: <= 350 MB)`);
  console.log(
    `routable:        ${reached} of ${sample.length} sampled connected agents received the admin's CHAT` +
      ` (acks in ${ackedSecs.toFixed(1)} s, ${Math.round(sample.length / ackedSecs)} msgs/s; refused ${JSON.stringify(refused)})`,
  );
  console.log(`  delivery:      p50 ${ms(lat.p50)}, p99 ${ms(lat.p99)}, max ${ms(lat.max)} (admin send to agent receipt, across processes)`);
  console.log(`machine after the run: ${describeLoad()}`);
  clearTimeout(watchdog);
}

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
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
