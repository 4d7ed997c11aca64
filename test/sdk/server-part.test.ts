/**
 * What the SDK relies on from the server part of issue 11 (§1), as an agent sees it: an agent that
 * connects for the first time after approval, and an agent process replaced by a new one with the
 * same cursor file, get each open directive exactly once and never an answered one; an answer that
 * reports an error (`[ERROR] …`, what a throwing handler sends) fails the action with its text.
 */
import { join } from 'node:path';
import { closeAll, createDb, dbKinds, newRedisPrefix, postgresUrl, redisUrl, sleep, startTestApp, type TestApp, type TestDb, warnIfPostgresSkipped } from '../support';
import { agentFor, approve, closeAgents, flow, outcome, request, statusesOf, tempDir } from './sdk-helpers';

warnIfPostgresSkipped('sdk server part');

describe.each(dbKinds())('waiting directives through the SDK on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind, env: { BUTLER_DELIVERY_TIMEOUT: '1m' } });
  });
  afterEach(async () => {
    await closeAgents();
    closeAll();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('an agent that connects for the first time after approval gets the waiting directive and completes the action', async () => {
    const f = await flow(s);
    const actionId = await request(f, 'water the plants');
    await approve(f, actionId);
    await f.requester.waitFor((e) => e.type === 'AUTH_STATUS_UPDATE' && (e.payload as { status: string }).status === 'APPROVED');
    await sleep(200); // the action waits: nothing has failed it

    const ran: string[] = [];
    agentFor(s, f.token).onDirective((d) => (ran.push(d.command), `watered (${d.actionId})`));
    expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: `watered (${actionId})` });
    expect(statusesOf(f, actionId)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    expect(ran).toEqual(['water the plants']);
  });

  it('a process replaced by a new one with the same cursor file gets each missed directive once, never an answered one', async () => {
    const f = await flow(s);
    const dir = tempDir();
    const file = join(dir.path, 'cursor.json');
    try {
      const first = agentFor(s, f.token, { cursor: file }).onDirective((d) => `first: ${d.command}`);
      await first.ready();
      const done = await request(f, 'job one');
      await approve(f, done);
      expect((await outcome(f, done)).status).toBe('COMPLETED');
      await first.close();

      // Approved while no process runs: both wait.
      const missed = [await request(f, 'job two'), await request(f, 'job three')];
      for (const id of missed) await approve(f, id);

      const ran: string[] = [];
      // Two handshakes in a row (a reconnect right after the first): still each directive once.
      const second = agentFor(s, f.token, { cursor: file }).onDirective(async (d) => {
        ran.push(d.command);
        return `second: ${d.command}`;
      });
      for (const id of missed) expect((await outcome(f, id)).status).toBe('COMPLETED');
      await second.close();
      const third = agentFor(s, f.token, { cursor: file }).onDirective((d) => (ran.push(`third ${d.command}`), 'no'));
      await third.ready();
      await sleep(300);
      expect(ran).toEqual(['job two', 'job three']);
    } finally {
      dir.remove();
    }
  });

  it('a handler that throws fails the action (FAILED) with the error text as its result', async () => {
    const f = await flow(s);
    const agent = agentFor(s, f.token).onDirective(() => {
      throw new Error('the disk is on fire');
    });
    await agent.ready();
    const actionId = await request(f, 'check the disk');
    await approve(f, actionId);
    const done = await outcome(f, actionId);
    expect(done.status).toBe('FAILED');
    expect(done.result).toContain('the disk is on fire');
    expect(statusesOf(f, actionId)).toEqual(['APPROVED', 'EXECUTING', 'FAILED']);
  });

  it('a directive received but not answered before the process died is run by the next process (and answered once)', async () => {
    const f = await flow(s);
    const dir = tempDir();
    const file = join(dir.path, 'cursor.json');
    try {
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const first = agentFor(s, f.token, { cursor: file }).onDirective(() => {
        started();
        return new Promise(() => undefined); // never answers: the process is "killed" below
      });
      await first.ready();
      const actionId = await request(f, 'survive a crash');
      await approve(f, actionId);
      await running;
      await first.close({ timeoutMs: 50 });

      const second = agentFor(s, f.token, { cursor: file }).onDirective((d) => `recovered ${d.command}`);
      expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: 'recovered survive a crash' });
      await second.ready();
    } finally {
      dir.remove();
    }
  });
});

const onReplicas = redisUrl && postgresUrl ? describe : describe.skip;
// eslint-disable-next-line no-console
if (!(redisUrl && postgresUrl)) console.warn('[sdk server part] replicas SKIPPED: set DATABASE_URL and REDIS_URL');

onReplicas('a waiting directive across three replicas (Redis, PostgreSQL)', () => {
  let db: TestDb;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    db = await createDb('postgres');
    const redis = { prefix: newRedisPrefix() };
    for (let i = 0; i < 3; i++) apps.push(await startTestApp({ db, redis, env: { BUTLER_DELIVERY_TIMEOUT: '1m' } }));
  });
  afterAll(async () => {
    await closeAgents();
    closeAll();
    for (const app of apps) await app.close();
    await db?.drop();
  });

  it('requester on A, admin on B, the agent offline at approval and connecting to C a moment later: completed once', async () => {
    const [a, b, c] = apps;
    const f = await flow(a, { requester: a.url, admin: b.url });
    const actionId = await request(f, 'rebalance');
    await approve(f, actionId);
    await sleep(300);
    const ran: string[] = [];
    agentFor(c, f.token).onDirective((d) => (ran.push(d.actionId), 'rebalanced'));
    expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: 'rebalanced' });
    await sleep(300);
    expect(ran).toEqual([actionId]);
    expect(statusesOf(f, actionId)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
  });
});
