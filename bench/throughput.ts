/**
 * Persisted CHAT throughput and latency on EchoCenter versus a bare Socket.IO relay, same workload.
 *
 *   node dist/bench/throughput.js [--db sqlite|postgres] [--pairs 50] [--window 8] [--messages 40000]
 *                                 [--payload 64] [--no-local-id] [--layout child|inproc] [--only echocenter|relay]
 *                                 [--node-flags="--max-semi-space-size=4"]
 *   node dist/bench/throughput.js --rate 1000 [--duration 10]      fixed-rate latency instead
 *
 * Prints figures; asserts nothing. Everything runs on 127.0.0.1 and stops by itself.
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Args } from './lib/args';
import { connectSocket, inParallel, login, rest } from './lib/clients';
import { createBenchDb, type BenchDb } from './lib/db';
import { benchEnv, startFlags, startServerInProcess, startServerProcess, type ServerHandle, type ServerMode } from './lib/server';
import { describeLoad, MachineLoad } from './lib/machine';
import { ms, table } from './lib/stats';
import { Workload, type Pair, type RunResult } from './lib/workload';

const args = new Args();
const opts = {
  db: args.choice('db', ['sqlite', 'postgres'] as const, 'sqlite'),
  pairs: args.number('pairs', 50),
  window: args.number('window', 8),
  messages: args.number('messages', 40_000),
  payload: args.number('payload', 64),
  localIds: !args.has('no-local-id'),
  layout: args.choice('layout', ['child', 'inproc'] as const, 'child'),
  only: args.choice('only', ['both', 'echocenter', 'relay'] as const, 'both'),
  rate: args.has('rate') ? args.number('rate', 1000) : undefined,
  durationMs: args.number('duration', 10, true) * 1000,
  warmupPerSender: args.number('warmup', 20),
  timeoutMs: args.number('timeout', 280, true) * 1000,
  /** Writes V8 CPU profiles of the servers over the measured part into this directory. */
  profile: args.has('profile') ? args.string('profile', 'bench-profiles') : undefined,
  /** Node/V8 flags for the server process on top of those of `npm start` (`--layout child` only). */
  nodeFlags: args.string('node-flags', '').split(/\s+/).filter(Boolean),
};

interface Target {
  label: string;
  server: ServerHandle;
  pairs: Pair[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];

async function start(mode: ServerMode, env: Record<string, string> = {}): Promise<ServerHandle> {
  const server = opts.layout === 'child' ? await startServerProcess(mode, env, opts.nodeFlags) : await startServerInProcess(mode, env);
  cleanups.push(() => server.stop());
  return server;
}

async function echoCenterTarget(db: BenchDb): Promise<Target> {
  const { env, adminPassword } = benchEnv(db.env);
  const server = await start('echocenter', env);
  const url = server.url;
  const admin = await login(url, 'admin', adminPassword);
  const range = Array.from({ length: opts.pairs }, (_, i) => i);
  const members = await inParallel(range, 8, async (i) => {
    const username = `bench-member-${i}`;
    await rest(url, 'POST', '/api/users', { username, password: 'bench-password', role: 'MEMBER' }, admin.token);
    return login(url, username, 'bench-password');
  });
  const agents = await inParallel(range, 8, async (i) => {
    const r = await rest<{ agent: { id: number }; api_token: string }>(url, 'POST', '/api/users/agents', { username: `bench-agent-${i}` }, admin.token);
    return { id: r.agent.id, token: r.api_token };
  });
  const pairs = await inParallel(range, 20, async (i) => ({
    member: { id: members[i].id, socket: await connectSocket(url, '/chat', { token: members[i].token }) },
    agent: { id: agents[i].id, socket: await connectSocket(url, '/agents', { token: agents[i].token }) },
  }));
  return { label: `EchoCenter (${db.kind})`, server, pairs, close: () => closeTarget(server, pairs) };
}

async function relayTarget(): Promise<Target> {
  const server = await start('relay');
  const range = Array.from({ length: opts.pairs }, (_, i) => i);
  const pairs = await inParallel(range, 20, async (i) => ({
    member: { id: i + 1, socket: await connectSocket(server.url, '/chat', { id: i + 1 }) },
    agent: { id: 100_001 + i, socket: await connectSocket(server.url, '/agents', { id: 100_001 + i }) },
  }));
  return { label: 'bare Socket.IO relay', server, pairs, close: () => closeTarget(server, pairs) };
}

async function closeTarget(server: ServerHandle, pairs: Pair[]): Promise<void> {
  for (const p of pairs) {
    p.member.socket.disconnect();
    p.agent.socket.disconnect();
  }
  await server.stop();
}

interface Measured {
  label: string;
  result: RunResult;
  serverCpu: number;
  loadCpu: number;
  /** Cores used by everything else on the machine meanwhile (other processes). */
  otherCpu: number | undefined;
}

/** Warms up, then measures one target with server and load-generator CPU use over the measured part. */
async function measure(target: Target): Promise<Measured> {
  const load = new Workload(target.pairs, { payloadBytes: opts.payload, localIds: opts.localIds });
  await load.closedLoop(opts.warmupPerSender, opts.window, 60_000);
  const stopProfile = opts.profile ? await target.server.profile() : undefined;
  const before = await target.server.stats();
  const loadBefore = process.cpuUsage();
  const machine = new MachineLoad();
  const t = performance.now();
  const result = opts.rate
    ? await load.fixedRate(opts.rate, opts.durationMs, opts.durationMs + 30_000)
    : await load.closedLoop(Math.max(1, Math.round(opts.messages / load.senderCount)), opts.window, 120_000);
  const wall = (performance.now() - t) * 1000;
  const after = await target.server.stats();
  if (stopProfile) {
    mkdirSync(opts.profile!, { recursive: true });
    const file = join(opts.profile!, `throughput-${target.server.mode}${opts.rate ? `-rate${opts.rate}` : ''}.cpuprofile`);
    await stopProfile(file);
    console.log(`profile: ${file} (summary: node dist/bench/profile-summary.js ${file})`);
  }
  const loadCpu = process.cpuUsage(loadBefore);
  const busy = machine.coresBusy();
  const serverCpu = (after.cpuMicros - before.cpuMicros) / wall;
  const ownLoadCpu = (loadCpu.user + loadCpu.system) / wall;
  return {
    label: target.label,
    result,
    serverCpu,
    loadCpu: ownLoadCpu,
    otherCpu: busy === undefined ? undefined : Math.max(0, busy - (opts.layout === 'child' ? serverCpu + ownLoadCpu : ownLoadCpu)),
  };
}

const cpuPerMsg = (m: Measured) => (m.serverCpu * m.result.elapsedMs) / Math.max(1, m.result.delivered);

function row(m: Measured): (string | number)[] {
  const r = m.result;
  const refused = [...r.refused].map(([code, n]) => `${code}:${n}`).join(' ') || '0';
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
    refused + (r.timedOut ? ' TIMED OUT' : ''),
  ];
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nbench: over --timeout ${opts.timeoutMs / 1000}s, stopping\n`);
    void cleanup().finally(() => process.exit(2));
  }, opts.timeoutMs);
  const senders = opts.pairs * 2;
  const perSender = Math.max(1, Math.round(opts.messages / senders));
  const layout =
    opts.layout === 'child'
      ? 'server in a child process (dist/bench/server-process.js), load generator in this process'
      : 'server and load generator in ONE process (figures are pessimistic for both)';
  console.log(`EchoCenter bench: persisted CHAT vs a bare Socket.IO relay (${new Date().toISOString()})`);
  console.log(`machine:   ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, ${describeLoad()}`);
  console.log(`layout:    ${layout}`);
  console.log(`node:      server flags ${[...startFlags(), ...opts.nodeFlags].join(' ') || '(none)'} (npm start's, then --node-flags)`);
  console.log(
    `workload:  ${opts.pairs} member<->agent pairs, both directions (${senders} sending sockets), websocket transport, ` +
      `payload {tag, t, pad: ${opts.payload} B}, local_id ${opts.localIds ? 'set' : 'not set'}`,
  );
  console.log(
    opts.rate
      ? `mode:      fixed rate ${opts.rate} msgs/s in total for ${opts.durationMs / 1000} s, round-robin over the senders; latency from the scheduled send time`
      : `mode:      closed loop, window ${opts.window} un-acked messages per socket, ${perSender} messages per socket = ${perSender * senders} messages`,
  );
  console.log(`warm-up:   ${opts.warmupPerSender} messages per socket first, not counted`);

  const results: Measured[] = [];
  if (opts.only !== 'relay') {
    const db = await createBenchDb(opts.db);
    cleanups.push(() => db.drop());
    console.log(`database:  ${db.label}; SOCKET_RATE_LIMIT=1000000/s, LOG_LEVEL=warn, NODE_ENV=production`);
    const target = await echoCenterTarget(db);
    results.push(await measure(target));
    await target.close();
    await db.drop();
  }
  if (opts.only !== 'echocenter') {
    const target = await relayTarget();
    results.push(await measure(target));
    await target.close();
  }

  console.log('');
  console.log(
    table([
      ['', opts.rate ? 'delivered' : 'msgs/s', 'e2e p50', 'e2e p99', 'e2e max', 'ack p50', 'ack p99', 'server CPU', 'CPU/msg', 'loadgen CPU', 'others CPU', 'refused'],
      ...results.map(row),
    ]),
  );
  console.log('(e2e: send to receipt at the target socket; ack: send to the sender\'s ack, which EchoCenter gives after the commit;');
  console.log(' CPU: share of one core over the measured part; the server figure includes its SQLite/libuv threads;');
  console.log(' CPU/msg: server CPU time per delivered message, the figure least disturbed by other load;');
  console.log(' others: every other process on the machine meanwhile: well above 0% means the figures are disturbed)');
  console.log(`machine after the run: ${describeLoad()}`);
  if (!opts.rate && results.length === 2) {
    const ratio = results[0].result.msgsPerSec / results[1].result.msgsPerSec;
    const cpuRatio = cpuPerMsg(results[1]) / cpuPerMsg(results[0]);
    console.log(`\nratio persisted/bare: ${ratio.toFixed(2)} in msgs/s (goal on SQLite: >= 0.6); ${cpuRatio.toFixed(2)} in server CPU per message`);
  }
  if (opts.rate) console.log(`\ngoal: e2e p99 <= 20 ms at 1,000 msgs/s on one replica`);
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
