/**
 * Fault test (issue 4), separate processes: one replica alone loses Redis (its connections go
 * through a proxy that the test cuts for a few seconds) while the other keeps it, with clients on
 * both exchanging messages. This is also what happens, for a moment, when replicas come back from a
 * Redis restart one after the other. The cut-off replica keeps storing and acking; every acked
 * message must still reach its target exactly once, and in id order: what the cut-off replica stores
 * is left behind the published mark, so the other replica's next commit delivers it first (and the
 * cut-off replica sweeps the rest when it is back).
 */
import { createAgent, createHuman, sleep } from '../support';
import { describeCluster, ensureBuilt, killAll, RedisProxy, Replica, startCluster, type Cluster } from './processes';
import { ackedCount, crossTraffic, expectAllStored, expectDeliveredOnceInOrder, lateIds, Roamer, settle, storedButUndelivered, untilAcked } from './roamer';

describeCluster('cluster/redis-partition')('one replica cut off from Redis while the other keeps it', () => {
  let cluster: Cluster;
  let proxy: RedisProxy;
  let cutOff: Replica;
  const everyone: Roamer[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    cluster = await startCluster(1, process.env.REDIS_URL!);
    proxy = await RedisProxy.start(process.env.REDIS_URL!);
    cutOff = await Replica.start('r2', { ...cluster.env, REDIS_URL: proxy.url });
  }, 180_000);

  afterAll(async () => {
    for (const c of everyone) c.close();
    await killAll();
    await cluster?.db.drop();
  }, 30_000);

  /**
   * Two members and two agents, one of each on either replica, sending to each other until stopped;
   * resolves once 20 sends are acked.
   */
  async function startTraffic(tag: string): Promise<{ clients: Roamer[]; flow: ReturnType<typeof crossTraffic> }> {
    const { api, adminToken } = cluster;
    const urls = [cluster.replicas[0].url, cutOff.url];
    const clients: Roamer[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await createHuman(api, adminToken, `${tag}member${i}`);
      const a = await createAgent(api, adminToken, `${tag}agent${i}`);
      clients.push(new Roamer(`${tag}member${i}`, 'chat', m.user.id, m.token, urls, i));
      clients.push(new Roamer(`${tag}agent${i}`, 'agents', a.agent.id, a.token, urls, i));
    }
    everyone.push(...clients);
    await Promise.all(clients.map((c) => c.start()));
    const flow = crossTraffic(clients);
    await untilAcked(clients, 20);
    return { clients, flow };
  }

  it.each([
    ['', false],
    [' (with commands in flight when it is cut)', true],
  ])('keeps acking on the cut-off replica%s, reports it 503, and delivers every acked message once when it is back', async (label, inFlight) => {
    const { clients, flow } = await startTraffic(inFlight ? 'inflight-' : '');

    if (inFlight) {
      // Redis stops hearing the cut-off replica (its PUBLISHes wait for replies), then the link breaks.
      proxy.hold();
      await sleep(300);
    }
    proxy.cut();
    const atCut = ackedCount(clients);
    const viaCutOff = () => clients.flatMap((c) => c.acked).filter((s) => s.via === cutOff.url).length;
    const viaCutOffBefore = viaCutOff();
    await Promise.all([sleep(2_000), untilAcked(clients, atCut + 20)]);
    expect(await cutOff.readyz()).toBe(503);
    expect(await cluster.replicas[0].readyz()).toBe(200);
    const storedWhileCut = viaCutOff() - viaCutOffBefore;
    proxy.mend();
    await cutOff.waitReady(15_000);
    await untilAcked(clients, ackedCount(clients) + 20);
    await flow.stop();

    const l = await settle(clients, 15_000);
    console.log(`[cluster/redis-partition${label}] ${storedWhileCut} acked by the cut-off replica while cut, ${l.acked} in all; ${lateIds(clients).length} delivered late`);
    expect(storedWhileCut).toBeGreaterThan(0);
    expect(clients.flatMap((c) => c.refused)).toEqual([]);
    expect(l.lost).toEqual([]);
    expect(l.duplicated).toEqual([]);
    await expectAllStored(cluster.env.DATABASE_URL, clients);
    expect(await storedButUndelivered(cluster.env.DATABASE_URL, clients)).toEqual([]);
    // Nothing arrives out of id order, not even what the cut-off replica stored.
    expect(lateIds(clients)).toEqual([]);
  }, 90_000);

  it('a transaction that ran but whose reply was lost is not published again: nothing is delivered twice', async () => {
    const { clients, flow } = await startTraffic('lostreply-');
    const publisher = `${cluster.env.REDIS_KEY_PREFIX}:pub`;
    for (let i = 0; i < 3; i++) {
      await proxy.dropAfterNextTransaction(publisher);
      await untilAcked(clients, ackedCount(clients) + 20);
    }
    await flow.stop();

    const l = await settle(clients, 15_000);
    expectDeliveredOnceInOrder(clients, l);
    await expectAllStored(cluster.env.DATABASE_URL, clients);
    expect(await storedButUndelivered(cluster.env.DATABASE_URL, clients)).toEqual([]);
  }, 90_000);

  it('a Redis connection that stops answering without closing stalls nobody for long: the replica reconnects by itself and loses nothing', async () => {
    const { clients, flow } = await startTraffic('stuck-');

    // The proxied replica's connections stay open but nothing it sends reaches Redis any more (the
    // append lock may be held by it at that moment, waiting for a reply that never comes).
    proxy.hold();
    const atHold = ackedCount(clients);
    const viaHeld = () => clients.flatMap((c) => c.acked).filter((m) => m.via === cutOff.url).length;
    const viaHeldBefore = viaHeld();
    await untilAcked(clients, atHold + 60, 20_000);
    expect(viaHeld()).toBeGreaterThan(viaHeldBefore);
    await cutOff.waitReady(15_000);
    await untilAcked(clients, ackedCount(clients) + 20);
    await flow.stop();

    const l = await settle(clients, 15_000);
    console.log(`[cluster/redis-partition (stuck connection)] ${l.acked} acked in all; ${lateIds(clients).length} delivered late`);
    expectDeliveredOnceInOrder(clients, l);
    await expectAllStored(cluster.env.DATABASE_URL, clients);
    expect(await storedButUndelivered(cluster.env.DATABASE_URL, clients)).toEqual([]);
  }, 90_000);
});
