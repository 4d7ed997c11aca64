/**
 * Holds N distinct authenticated agents on `/agents` of one EchoCenter process, prints that process's
 * RSS before and after and per connection, then checks that agents are routable: an admin sends a CHAT
 * to a sample of them and the bench counts who received it.
 *
 *   node dist/bench/agents.js [--agents 20000] [--procs 4] [--addresses 4] [--sample 1000|all]
 *                             [--concurrency 50] [--db sqlite|postgres] [--target relay] [--settle 10]
 *                             [--timeout 290] [--profile DIR] [--node-flags="--max-semi-space-size=4"]
 *                             [--heap-compaction idle|off] [--handshake-concurrency 32]
 *
 * Agents are seeded straight into a fresh database; the sockets live in --procs client processes
 * (dist/bench/agents-worker.js), bound round-robin to the loopback source addresses 127.0.0.2 … so
 * that no single address runs out of ephemeral ports. `--target relay` holds the same sockets on the
 * bare Socket.IO relay instead (no auth, no database): the baseline for the memory per connection.
 * Prints figures; asserts nothing.
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { startAgentWorker, totals, type AgentWorker } from './lib/agent-workers';
import { Args } from './lib/args';
import { connectSocket, login } from './lib/clients';
import { createBenchDb } from './lib/db';
import { describeLoad } from './lib/machine';
import { seedAgents } from './lib/seed-agents';
import { benchEnv, startFlags, startServerProcess, type ServerHandle } from './lib/server';
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
  /** Node/V8 flags for the server process on top of those of `npm start`, e.g. a deployment's NODE_OPTIONS. */
  nodeFlags: args.string('node-flags', '').split(/\s+/).filter(Boolean),
  /** HEAP_COMPACTION of the server (README → Configuration); `off` is the default of `npm start`, `idle` opts in. */
  heapCompaction: args.choice('heap-compaction', ['idle', 'off'] as const, 'off'),
  /** HANDSHAKE_CONCURRENCY of the server (README → Configuration); unset: the server's default. */
  handshakeConcurrency: wholeNumber(args.string('handshake-concurrency', '')),
};
const cleanups: (() => Promise<void>)[] = [];
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const log = (line: string) => console.log(`[${elapsed().padStart(6)}] ${line}`);
const memLine = (label: string, s: ServerStats) =>
  `${label}: RSS ${mb(s.rss)}, heap used ${mb(s.heapUsed)} of ${mb(s.heapTotal)}, open fds ${s.openFds} (limit ${s.fdLimit})`;

interface Target {
  server: ServerHandle;
  agents: { id: number; token: string }[];
  adminAuth(): Promise<Record<string, unknown>>;
}

/** EchoCenter on a fresh database with the agents seeded, or the bare relay with made-up ids. */
async function startTarget(): Promise<Target> {
  if (opts.target === 'relay') {
    console.log('target:  the bare Socket.IO relay (no auth, no database, no presence): the baseline');
    const server = await startServerProcess('relay', {}, opts.nodeFlags);
    cleanups.push(async () => server.kill());
    return { server, agents: Array.from({ length: opts.agents }, (_, i) => ({ id: i + 1, token: '' })), adminAuth: async () => ({ id: 1_000_000_000 }) };
  }
  const db = await createBenchDb(opts.db);
  cleanups.push(() => db.drop());
  const { env, adminPassword } = benchEnv(db.env, {
    HEAP_COMPACTION: opts.heapCompaction,
    ...(opts.handshakeConcurrency ? { HANDSHAKE_CONCURRENCY: opts.handshakeConcurrency } : {}),
  });
  console.log(`database: ${db.label}`);
  const agents = await seedAgents({ PATH: process.env.PATH ?? '', ...env }, opts.agents);
  log(`seeded ${agents.length} agents (users + machine_credentials rows, SHA-256 token hashes)`);
  const server = await startServerProcess('echocenter', env, opts.nodeFlags);
  // Killed, not stopped: a graceful close of thousands of agents is not what this bench measures.
  cleanups.push(async () => server.kill());
  return { server, agents, adminAuth: async () => ({ token: (await login(server.url, 'admin', adminPassword)).token }) };
}

/** Starts a CPU profile of the server when --profile is set; the returned function writes it. */
async function profile(server: ServerHandle, name: string): Promise<() => Promise<void>> {
  if (!opts.profile) return async () => undefined;
  mkdirSync(opts.profile, { recursive: true });
  const file = join(opts.profile, `${name}.cpuprofile`);
  const stop = await server.profile();
  return async () => {
    await stop(file);
    log(`wrote ${file} (summary: node dist/bench/profile-summary.js ${file})`);
  };
}

/** Hands each worker its share of the agents and waits until all are in, or the time budget is spent. */
async function connectAll(target: Target, workers: AgentWorker[], addresses: string[]): Promise<number> {
  const share = Math.ceil(target.agents.length / workers.length);
  const start = performance.now();
  await Promise.all(
    workers.map((w, k) =>
      w.send({ cmd: 'connect', url: target.server.url, agents: target.agents.slice(k * share, (k + 1) * share), addresses, concurrency: opts.concurrency }),
    ),
  );
  for (let last = 0; ; ) {
    await sleep(2000);
    const { connected, failed } = totals(workers);
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
  return (performance.now() - start) / 1000;
}

/** The admin sends one CHAT to each sampled agent (32 in flight); the workers say who received it. */
async function probe(admin: Socket, workers: AgentWorker[], sample: number[]) {
  const tag = `probe-${Date.now()}`;
  await Promise.all(workers.map((w) => w.send({ cmd: 'probe', tag })));
  const start = performance.now();
  const refused: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < sample.length) {
        const target = sample[next++];
        const ack = (await admin
          .timeout(30_000)
          .emitWithAck('message', { type: 'CHAT', target_id: target, payload: { probe: tag, t: performance.timeOrigin + performance.now() } })
          .catch(() => ({ ok: false, code: 'ACK_TIMEOUT' }))) as { ok: boolean; code?: string };
        if (!ack.ok) refused[ack.code ?? '?'] = (refused[ack.code ?? '?'] ?? 0) + 1;
      }
    }),
  );
  const ackedSecs = (performance.now() - start) / 1000;
  const wanted = new Set(sample);
  const latency = new Samples();
  let reached = 0;
  for (let waited = 0; ; waited += 500) {
    const reports = await Promise.all(workers.map((w) => w.report()));
    reached = reports.reduce((a, r) => a + r.reached.filter((id) => wanted.has(id)).length, 0);
    if (reached >= sample.length || waited >= 15_000) {
      for (const r of reports) r.latencies.forEach((l) => latency.add(l));
      break;
    }
    await sleep(500);
  }
  return { reached, refused, ackedSecs, latency: latency.summary() };
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
  console.log(`node:    server flags ${[...startFlags(), ...opts.nodeFlags].join(' ') || '(none)'} (npm start's, then --node-flags)`);
  const target = await startTarget();
  const { server } = target;
  await server.stats(true);
  await sleep(opts.settleMs); // the same idle period as after connecting (see below)
  const before = await server.stats(true);
  log(`server pid ${server.pid} at ${server.url}`);
  log(memLine('before', before));
  // Every socket is a descriptor of the one server process, next to the ~20-25 it holds anyway.
  const softLimit = Number(/^(\d+)/.exec(before.fdLimit)?.[1]);
  const room = softLimit - before.openFds - 6;
  if (softLimit && opts.agents > room) {
    log(
      `WARNING: the server can hold about ${room} more sockets: its descriptor limit is ${before.fdLimit} and ${before.openFds} ` +
        `are in use; expect the last ~${opts.agents - room} handshakes to fail (raising it needs the hard limit raised, e.g. ` +
        `LimitNOFILE= in systemd, or ulimit -Hn as root with CAP_SYS_RESOURCE)`,
    );
  }

  // The admin that probes routability connects first: at the descriptor limit it could not connect later.
  // On /chat it receives a PRESENCE for every agent that arrives, as a watching admin would.
  const admin = await connectSocket(server.url, '/chat', await target.adminAuth());
  cleanups.push(async () => void admin.disconnect());
  const workers = Array.from({ length: Math.min(opts.procs, target.agents.length) }, () => startAgentWorker());
  for (const w of workers) cleanups.push(() => w.stop());

  const stopConnectProfile = await profile(server, `agents-${opts.target}-connect`);
  const connectSecs = await connectAll(target, workers, addresses);
  await stopConnectProfile();
  const connectCpu = ((await server.stats()).cpuMicros - before.cpuMicros) / 1e6 / connectSecs;
  const { connected, failed, errors } = totals(workers);

  await sleep(2000); // let presence work settle
  const justAfter = await server.stats(true);
  log(memLine('after ', justAfter));
  // V8 gives back the pages that the handshakes' garbage left behind only once allocation has been
  // quiet for a while (its memory reducer): measure again after an idle period, which is the steady state.
  await sleep(opts.settleMs);
  const after = await server.stats(true);
  log(memLine(`after ${opts.settleMs / 1000}s idle`, after));
  // Per connection by what the server holds: handshakes still in flight when a worker halted count too.
  const held = Object.values(after.agentsByAddress).reduce((a, n) => a + n, 0);
  const perConn = held ? (after.rss - before.rss) / held : NaN;
  const heapPerConn = held ? (after.heapUsed - before.heapUsed) / held : NaN;

  const reports = await Promise.all(workers.map((w) => w.report()));
  const gone = reports.reduce((a, r) => a + r.disconnected, 0);
  const connectedIds = reports.flatMap((r) => r.connectedIds);
  const sample = shuffle(connectedIds).slice(0, opts.sample === 'all' ? connectedIds.length : Number(opts.sample) || 1000);
  const stopProbeProfile = await profile(server, `agents-${opts.target}-probe`);
  const routed = await probe(admin, workers, sample);
  await stopProbeProfile();

  console.log('');
  console.log(
    `agents:          ${connected} of ${opts.agents} connected in ${connectSecs.toFixed(1)} s (${Math.round(connected / connectSecs)} handshakes/s, ` +
      `server CPU ${Math.round(connectCpu * 100)}% of a core), ${failed} failed`,
  );
  if (failed) console.log(`  failures:      ${JSON.stringify(errors)}`);
  if (failed && softLimit && after.openFds >= softLimit - 10) {
    console.log(`  cause:         the server process is at its descriptor limit (${after.openFds} open of ${before.fdLimit}): one per socket`);
  }
  if (gone) console.log(`  disconnected after connecting: ${gone}`);
  console.log(`  server sees:   ${after.sockets} sockets; /agents by source address ${JSON.stringify(after.agentsByAddress)}`);
  console.log(`  server fds:    ${after.openFds} open, limit ${after.fdLimit} (one per socket, plus the listener, the database and stdio)`);
  console.log(
    `server RSS:      ${mb(before.rss)} before, ${mb(justAfter.rss)} just after connecting, ${mb(after.rss)} after ${opts.settleMs / 1000} s idle` +
      ` (before: also after ${opts.settleMs / 1000} s idle; a full GC before each)`,
  );
  console.log(`JS heap:         ${mb(before.heapUsed)} used of ${mb(before.heapTotal)} before, ${mb(after.heapUsed)} used of ${mb(after.heapTotal)} after`);
  console.log(`  heap spaces:   ${after.heapSpaces} (reserved/live)`);
  if (after.heapCompaction) console.log(`  compaction:    ${after.heapCompaction}`);
  console.log(`per connection:  ${kb(perConn)} RSS, ${kb(heapPerConn)} JS heap (over the ${held} agent sockets the server holds)`);
  console.log(`  at 20,000:     ~${mb(before.rss + perConn * 20_000)} RSS (goal: <= 350 MB)`);
  console.log(
    `routable:        ${routed.reached} of ${sample.length} sampled connected agents received the admin's CHAT` +
      ` (acks in ${routed.ackedSecs.toFixed(1)} s, ${Math.round(sample.length / routed.ackedSecs)} msgs/s; refused ${JSON.stringify(routed.refused)})`,
  );
  const lat = routed.latency;
  console.log(`  delivery:      p50 ${ms(lat.p50)}, p99 ${ms(lat.p99)}, max ${ms(lat.max)} (admin send to agent receipt, across processes)`);
  console.log(`machine after the run: ${describeLoad()}`);
  clearTimeout(watchdog);
}

/** A whole number given as text (0 included), or undefined when not given; exits on anything else. */
function wholeNumber(text: string): string | undefined {
  if (text === '') return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--handshake-concurrency needs a whole number, got ${text}`);
  return text;
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
