/**
 * Cross-replica latency (issue 4): two EchoCenter processes on one fresh PostgreSQL database and one
 * Redis (a unique key prefix), every member on replica A and every agent on replica B, so each message
 * crosses Redis. Fixed rate, both directions; prints e2e p50/p99 (goal p99 ≤ 30 ms at 1,000 msgs/s).
 *
 *   DATABASE_URL=postgres://… REDIS_URL=redis://… npm run bench:replicas -- [--rate 1000] [--duration 10] [--pairs 50]
 *                                                                          [--node-flags="…"]
 */
import { randomBytes } from 'node:crypto';
import { Args } from './lib/args';
import { connectSocket, inParallel, login, rest } from './lib/clients';
import { createBenchDb } from './lib/db';
import { MachineLoad } from './lib/machine';
import { benchEnv, startServerProcess, type ServerHandle } from './lib/server';
import { ms, table } from './lib/stats';
import { Workload, type Pair } from './lib/workload';

async function main(): Promise<void> {
  const args = new Args();
  const rate = args.number('rate', 1000);
  const seconds = args.number('duration', 10, true);
  const pairsWanted = args.number('pairs', 50);
  const nodeFlags = args.string('node-flags', '').split(/\s+/).filter(Boolean);
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl || !process.env.DATABASE_URL) throw new Error('needs DATABASE_URL and REDIS_URL');
  const db = await createBenchDb('postgres');
  const { env, adminPassword } = benchEnv(db.env, { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `bench-${randomBytes(4).toString('hex')}` });
  const servers: ServerHandle[] = [];
  const pairs: Pair[] = [];
  try {
    // One at a time: the first runs the migrations and creates the admin; the second finds them done.
    servers.push(await startServerProcess('echocenter', env, nodeFlags));
    servers.push(await startServerProcess('echocenter', env, nodeFlags));
    const [a, b] = servers;
    const admin = await login(a.url, 'admin', adminPassword);
    const range = Array.from({ length: pairsWanted }, (_, i) => i);
    const members = await inParallel(range, 8, async (i) => {
      await rest(a.url, 'POST', '/api/users', { username: `m${i}`, password: 'bench-password', role: 'MEMBER' }, admin.token);
      return login(a.url, `m${i}`, 'bench-password');
    });
    const agents = await inParallel(range, 8, async (i) =>
      rest<{ agent: { id: number }; api_token: string }>(a.url, 'POST', '/api/users/agents', { username: `a${i}` }, admin.token),
    );
    pairs.push(
      ...(await inParallel(range, 20, async (i) => ({
        member: { id: members[i].id, socket: await connectSocket(a.url, '/chat', { token: members[i].token }) },
        agent: { id: agents[i].agent.id, socket: await connectSocket(b.url, '/agents', { token: agents[i].api_token }) },
      }))),
    );
    const load = new Workload(pairs, { payloadBytes: 64, localIds: true });
    await load.closedLoop(10, 4, 60_000);
    const machine = new MachineLoad();
    const r = await load.fixedRate(rate, seconds * 1000, seconds * 1000 + 30_000);
    console.log(`two replicas (separate processes) on ${db.label}, Redis ${new URL(redisUrl).host}; members on A, agents on B`);
    console.log(`fixed rate ${rate} msgs/s for ${seconds} s, both directions, ${pairs.length} pairs`);
    console.log(
      table([
        ['sent', 'delivered', 'e2e p50', 'e2e p90', 'e2e p99', 'ack p99', 'refused', 'machine busy'],
        [r.sent, r.delivered, ms(r.e2e.p50), ms(r.e2e.p90), ms(r.e2e.p99), ms(r.ack.p99), [...r.refused.values()].reduce((x, y) => x + y, 0), `${Math.round((machine.coresBusy() ?? 0) * 100)}% of a core`],
      ]),
    );
  } finally {
    for (const p of pairs) {
      p.member.socket.disconnect();
      p.agent.socket.disconnect();
    }
    for (const s of servers) await s.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
