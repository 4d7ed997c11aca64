/**
 * Fault test (issue 4), separate processes: two replicas on a private redis-server that is SIGKILLed
 * and started again on the same port while clients on both replicas exchange messages. During the
 * outage sends are still stored and acked and /readyz says 503; afterwards readiness returns and
 * every acked message reaches its target (through the resync, a late publish, or replay) exactly
 * once, in id order except for what was stored while the replicas were coming back. Dropping only
 * the publisher or only the subscriber connections must not even reorder.
 */
import Redis from 'ioredis';
import { describeCluster, ensureBuilt, killAll, OwnRedis, startCluster, type Cluster, type Replica } from './processes';
import { ackedCount, ackLatency, crossTraffic, expectAllStored, expectDeliveredOnceInOrder, lateIds, maxAckedId, Roamer, settle, storedButUndelivered, untilAcked } from './roamer';
import { createAgent, createHuman, eventually, sleep } from '../support';

/** Polls /readyz on every replica until each answers `status`; resolves with the time it took. */
async function readiness(replicas: Replica[], status: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const got = await Promise.all(replicas.map((r) => r.readyz()));
    if (got.every((s) => s === status)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`readiness is ${got.join(', ')}, expected ${status} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describeCluster('cluster/redis-restart')('Redis restart under traffic (two replicas)', () => {
  let redis: OwnRedis;
  let cluster: Cluster;
  const clients: Roamer[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    redis = await OwnRedis.start();
    cluster = await startCluster(2, redis.url);
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await killAll();
    await cluster?.db.drop();
  }, 30_000);

  /** A member and an agent on each replica, everyone talking across replicas. */
  async function cast(tag: string): Promise<{ people: Roamer[]; flow: ReturnType<typeof crossTraffic> }> {
    const { api, adminToken, replicas } = cluster;
    const urls = replicas.map((r) => r.url);
    const people: Roamer[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await createHuman(api, adminToken, `${tag}-member${i}`);
      const a = await createAgent(api, adminToken, `${tag}-agent${i}`);
      people.push(new Roamer(`${tag}-member${i}`, 'chat', m.user.id, m.token, urls, i));
      people.push(new Roamer(`${tag}-agent${i}`, 'agents', a.agent.id, a.token, urls, i));
    }
    clients.push(...people);
    await Promise.all(people.map((c) => c.start()));
    const flow = crossTraffic(people);
    return { people, flow };
  }

  it.each([
    ['publisher', 'the publish waits for it, in order', 'pub'],
    ['subscriber', 'the replica resyncs its sockets', 'sub'],
  ])('a %s connection that drops on both replicas while Redis stays up loses nothing: %s', async (_what, _how, client) => {
    const { people, flow } = await cast(`${client}drop`);
    await untilAcked(people, 20);
    const admin = new Redis(redis.url);
    try {
      const list = (await admin.client('LIST')) as string;
      const conns = list.split('\n').filter((l) => l.includes(` name=${cluster.env.REDIS_KEY_PREFIX}:${client} `));
      expect(conns).toHaveLength(2);
      for (const line of conns) await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]);
    } finally {
      admin.disconnect();
    }
    const atKill = ackedCount(people);
    await untilAcked(people, atKill + 40);
    await flow.stop();

    const l = await settle(people, 10_000);
    expectDeliveredOnceInOrder(people, l);
    await expectAllStored(cluster.env.DATABASE_URL, people);
    expect(await storedButUndelivered(cluster.env.DATABASE_URL, people)).toEqual([]);
  }, 60_000);

  it.each([
    ['', false],
    [' (with PUBLISHes in flight when it dies)', true],
  ])('keeps storing and acking during the outage%s, reports 503, recovers by itself and loses nothing', async (_label, inFlight) => {
    const { replicas } = cluster;
    const urls = replicas.map((r) => r.url);
    const { people: clients, flow } = await cast(inFlight ? 'inflight' : 'restart');
    await untilAcked(clients, 20);
    if (inFlight) {
      // Redis stops answering (the replicas' PUBLISHes wait for replies), then dies.
      const admin = new Redis(redis.url);
      await admin.client('PAUSE', '30000', 'ALL');
      admin.disconnect();
      await sleep(300);
    }
    const beforeOutage = ackedCount(clients);

    const outageFrom = maxAckedId(clients);
    await redis.kill();
    const downFor = await readiness(replicas, 503, 5_000);
    const atKill = ackedCount(clients);
    // A few seconds of outage, and enough sends in it.
    await Promise.all([sleep(3_000), untilAcked(clients, atKill + 20)]);
    // Still 503 while Redis is away, and sends were stored and acked all along.
    expect(await Promise.all(replicas.map((r) => r.readyz()))).toEqual([503, 503]);
    const duringOutage = ackedCount(clients) - atKill;

    await redis.restart();
    const upAfter = await readiness(replicas, 200, 15_000);
    await sleep(1_000);
    const outageTo = maxAckedId(clients);
    await untilAcked(clients, beforeOutage + duringOutage + 20);
    await flow.stop();

    const l = await settle(clients, 15_000);
    console.log(
      `[cluster/redis-restart] acked ${beforeOutage} before, ${duringOutage} during the outage, ${l.acked} in all, ${lateIds(clients).length} late; 503 after ${downFor} ms; 200 again ${upAfter} ms after the restart; ${ackLatency(clients)}`,
    );
    expect(clients.flatMap((c) => c.refused)).toEqual([]);
    expect(l.lost).toEqual([]);
    expect(l.duplicated).toEqual([]);
    // Replicas come back one after the other; what a replica stored before its own reconnect reaches
    // the clients of a replica that was back earlier late (see RedisCluster). Outside the outage, id order.
    expect(lateIds(clients).filter((id) => id <= outageFrom || id > outageTo)).toEqual([]);
    for (const c of clients) expect(c.visits).toEqual([urls[clients.indexOf(c) < 2 ? 0 : 1]]);
    await expectAllStored(cluster.env.DATABASE_URL, clients);
    expect(await storedButUndelivered(cluster.env.DATABASE_URL, clients)).toEqual([]);

    // The restarted Redis is empty: presence is rebuilt from the sockets each replica holds. The
    // replica re-registers them when its connections are back (retrying until the command connection
    // answers), so this may lag readiness by a moment.
    const agents = clients.filter((c) => c.nsp === 'agents');
    const online = async () => {
      const listed = (await cluster.api.get('/api/users/agents', cluster.adminToken)).body as { id: number; online: boolean }[];
      return agents.map((a) => listed.find((x) => x.id === a.userId)?.online);
    };
    await eventually(async () => (await online()).every((x) => x === true), 5_000).catch(() => undefined);
    expect(await online()).toEqual(agents.map(() => true));
  }, 90_000);
});
