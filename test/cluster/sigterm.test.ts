/**
 * Graceful shutdown (issue 4), separate processes: three replicas, clients with reconnection connected
 * to replica 1 while messages flow; replica 1 gets SIGTERM. Its /readyz must say 503 at once, it must
 * exit (code 0) within SHUTDOWN_TIMEOUT, and its clients must land on the other replicas and lose
 * nothing that was acked (replay with last_id), with no duplicate and in id order.
 */
import { createAgent, createHuman, sleep } from '../support';
import { describeCluster, ensureBuilt, killAll, SHUTDOWN_TIMEOUT_MS, startCluster, type Cluster, type Replica } from './processes';
import { ackedCount, ackLatency, expectAllStored, Roamer, settle, storedButUndelivered, traffic, untilAcked } from './roamer';

/**
 * Polls /readyz back to back from `since` until the replica stops answering: each status (0 once
 * nothing answers) with the milliseconds since `since`.
 */
async function readinessUntilGone(replica: Replica, since: number): Promise<[number, number][]> {
  const seen: [number, number][] = [];
  for (;;) {
    const status = await replica.readyz(500);
    seen.push([status, Date.now() - since]);
    if (status === 0 || !replica.alive) return seen;
  }
}

describeCluster('cluster/sigterm')('SIGTERM of a replica with clients connected', () => {
  let cluster: Cluster;
  const clients: Roamer[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    cluster = await startCluster(3, process.env.REDIS_URL!);
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await killAll();
    await cluster?.db.drop();
  }, 30_000);

  it('turns /readyz 503 at once, exits within SHUTDOWN_TIMEOUT, and its clients move on and lose nothing', async () => {
    const { api, adminToken, replicas } = cluster;
    const urls = replicas.map((r) => r.url);
    const [r1] = replicas;
    // Two members and two agents on replica 1, a member and an agent on each of the others.
    const spec: [string, 'chat' | 'agents', number][] = [
      ['m1a', 'chat', 0], ['m1b', 'chat', 0], ['g1a', 'agents', 0], ['g1b', 'agents', 0],
      ['m2', 'chat', 1], ['g2', 'agents', 1], ['m3', 'chat', 2], ['g3', 'agents', 2],
    ];
    for (const [name, nsp, start] of spec) {
      const who = nsp === 'chat' ? await createHuman(api, adminToken, name) : await createAgent(api, adminToken, name);
      const id = 'user' in who ? who.user.id : who.agent.id;
      clients.push(new Roamer(name, nsp, id, who.token, urls, start));
    }
    await Promise.all(clients.map((c) => c.start()));
    const by = Object.fromEntries(clients.map((c) => [c.name, c]));
    const flow = traffic([
      [by.m1a, [by.g2, by.m1b, by.g1a]],
      [by.m1b, [by.m3, by.g3]],
      [by.g1a, [by.m2, by.m1a]],
      [by.g1b, [by.m1b, by.m3]],
      [by.m2, [by.m1a, by.g1b]],
      [by.g2, [by.m1a, by.m1b]],
      [by.m3, [by.g1a, by.g1b]],
      [by.g3, [by.m1b, by.m2]],
    ]);
    await untilAcked(clients, 20);
    const beforeSignal = ackedCount(clients);

    const signalledAt = Date.now();
    r1.kill('SIGTERM');
    const polls = await readinessUntilGone(r1, signalledAt);
    const statuses = polls.map(([status]) => status);
    const exit = await r1.waitExit(SHUTDOWN_TIMEOUT_MS + 3_000);
    const exitedAfterMs = Date.now() - signalledAt;
    // Keep the traffic going until every client of replica 1 has sent through its new replica.
    const movedBefore = clients.map((c) => c.acked.length);
    const deadline = Date.now() + 20_000;
    while (clients.some((c, i) => c.acked.length < movedBefore[i] + 3) && Date.now() < deadline) await sleep(50);
    await flow.stop();

    const l = await settle(clients, 15_000);
    console.log(
      `[cluster/sigterm] readiness after the signal: ${polls.map(([st, ms]) => `${st}@${ms}ms`).join(' ')}; exited after ${exitedAfterMs} ms; acked ${beforeSignal} before, ${l.acked} in all; ${ackLatency(clients)}`,
    );
    // Only the first poll can race the signal (the replica handles it before the next request
    // arrives): it may still say 200. Every later answer is 503, while the sockets drain, until the
    // listener closes; a drain quicker than one poll (seen once in CI: 200@32ms, then refused at
    // 39 ms) leaves no 503 to see, and that is fine (test/ops/shutdown holds a drain open and
    // requires the 503). Never a 200 after the first answer.
    expect(statuses.join(' ')).toMatch(/^(200 )?(503 )*0$/);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedAfterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 1_000);
    for (const c of clients) {
      expect(c.connected).toBe(true);
      expect(c.url).not.toBe(r1.url);
    }
    clients.forEach((c, i) => expect(c.acked.length).toBeGreaterThanOrEqual(movedBefore[i] + 3));
    expect(l.lost).toEqual([]);
    expect(l.duplicated).toEqual([]);
    expect(l.outOfOrder).toEqual([]);
    await expectAllStored(cluster.env.DATABASE_URL, clients);
    // In-flight work finished and was emitted: even a message whose ack the shutdown cut off reached its target.
    expect(await storedButUndelivered(cluster.env.DATABASE_URL, clients)).toEqual([]);
  }, 90_000);
});
