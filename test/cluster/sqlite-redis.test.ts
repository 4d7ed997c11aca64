/**
 * Fault test (issue 4), a separate process: one replica on SQLite with Redis (a single replica may run
 * with REDIS_URL; every broadcast then goes through Redis and back). Its Redis connections go through
 * a proxy that closes the publisher's connection right after Redis has run a transaction, before
 * the replica hears the answer. The replica publishes again only what did not run: every acked
 * message reaches its target once, in id order.
 */
import Redis from 'ioredis';
import { createAgent, createHuman, newRedisPrefix, RestClient, sleep, sqliteDb } from '../support';
import { ensureBuilt, killAll, RedisProxy, Replica, replicaEnv } from './processes';
import { ackedCount, crossTraffic, expectDeliveredOnceInOrder, Roamer, settle, untilAcked } from './roamer';

const suite = 'cluster/sqlite-redis';
const run = process.env.REDIS_URL ? describe : describe.skip;
if (!process.env.REDIS_URL) process.stderr.write(`\n[${suite}] SKIPPED: needs REDIS_URL; nothing was tested\n`);

run('one replica on SQLite with Redis', () => {
  const db = sqliteDb();
  const prefix = newRedisPrefix();
  let proxy: RedisProxy;
  let replica: Replica;
  let api: RestClient;
  let adminToken: string;
  const clients: Roamer[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    proxy = await RedisProxy.start(process.env.REDIS_URL!);
    replica = await Replica.start('sqlite', replicaEnv({ ...db.env, REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix }));
    api = new RestClient(replica.url);
    const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    adminToken = login.body.token;
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await killAll();
    await proxy?.close();
    await db.drop();
  }, 30_000);

  /** Two members and two agents, connected, talking to each other (crossTraffic); after 20 acks. */
  async function cast(tag: string): Promise<{ people: Roamer[]; flow: ReturnType<typeof crossTraffic> }> {
    const people: Roamer[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await createHuman(api, adminToken, `${tag}member${i}`);
      const a = await createAgent(api, adminToken, `${tag}agent${i}`);
      people.push(new Roamer(`${tag}member${i}`, 'chat', m.user.id, m.token, [replica.url]));
      people.push(new Roamer(`${tag}agent${i}`, 'agents', a.agent.id, a.token, [replica.url]));
    }
    clients.push(...people);
    await Promise.all(people.map((c) => c.start()));
    const flow = crossTraffic(people);
    await untilAcked(people, 20);
    return { people, flow };
  }

  it('a transaction that ran but whose reply was lost is not published again: nothing is delivered twice', async () => {
    const { people, flow } = await cast('');
    for (let i = 0; i < 3; i++) {
      await proxy.dropAfterNextTransaction(`${prefix}:pub`);
      await untilAcked(people, ackedCount(people) + 20);
    }
    await flow.stop();

    const l = await settle(people, 15_000);
    expectDeliveredOnceInOrder(people, l);
  }, 90_000);

  it('and when the publisher stays away longer than a retry waits, what is published late leaves out what had run', async () => {
    const { people, flow } = await cast('late-');
    // The retry gives up after 5 s; the publisher is back after 7. The groups of those seconds are
    // kept and published late, in order, except the one whose transaction had run.
    await proxy.dropAfterNextTransaction(`${prefix}:pub`, 7_000);
    await untilAcked(people, ackedCount(people) + 20, 30_000);
    await sleep(8_000);
    await untilAcked(people, ackedCount(people) + 20);
    await flow.stop();

    const l = await settle(people, 15_000);
    expect(people.flatMap((c) => c.refused)).toEqual([]);
    expect(l.lost).toEqual([]);
    expect(l.duplicated).toEqual([]);
    // Only the publisher's connection broke: the replica never took Redis for stuck (that would drop
    // the subscriber too, and resynchronise every socket).
    expect(replica.tail.filter((line) => line.includes('redis stopped answering'))).toEqual([]);
  }, 90_000);

  it('a mark Redis refuses to move (an error reply): the group is out, neither retried nor sent again, and nothing stalls', async () => {
    // The replica's own mark becomes a list: the script that moves it fails with WRONGTYPE in every
    // group's MULTI, after that MULTI's PUBLISHes went out.
    const admin = new Redis(process.env.REDIS_URL!);
    try {
      const [key] = await admin.keys(`${prefix}:log:published:*`);
      expect(key).toBeDefined();
      await admin.del(key);
      await admin.rpush(key, 'not a number');
      const { people, flow } = await cast('wrongtype-');
      await untilAcked(people, ackedCount(people) + 40, 10_000);
      await flow.stop();
      const l = await settle(people, 15_000);
      expectDeliveredOnceInOrder(people, l);
      expect(await admin.type(key)).toBe('list');
    } finally {
      admin.disconnect();
    }
  }, 90_000);
});
