/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The Butler across replicas (PROTOCOL §6: "all of this holds when the requester, the approving admin
 * and the agent are connected to different replicas"): three app instances in this process on one
 * fresh PostgreSQL database and one Redis key prefix.
 */
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, connect, createDb, newRedisPrefix, postgresUrl, redisUrl, sleep, startTestApp, type TestApp, type TestClient, type TestDb } from '../support';
import { type Cast, cast, decide, fileRequest, isAuth, statuses } from './butler-helpers';

const run = redisUrl && postgresUrl ? describe : describe.skip;
// eslint-disable-next-line no-console
if (!(redisUrl && postgresUrl)) console.warn('[butler replicas] SKIPPED: set DATABASE_URL and REDIS_URL to run the Butler across three replicas');

const AUTH_TIMEOUT_MS = 3_000;

run('the Butler across three replicas over Redis and PostgreSQL', () => {
  let db: TestDb;
  let a: TestApp;
  let b: TestApp;
  let c: TestApp;

  beforeAll(async () => {
    db = await createDb('postgres');
    const redis = { prefix: newRedisPrefix() };
    const env = { BUTLER_AUTH_TIMEOUT: `${AUTH_TIMEOUT_MS}ms` };
    a = await startTestApp({ db, redis, env });
    b = await startTestApp({ db, redis, env });
    c = await startTestApp({ db, redis, env });
  });
  afterAll(async () => {
    closeAll();
    await a?.close();
    await b?.close();
    await c?.close();
    await db?.drop();
  });

  /** Requester on A, approving admin on B, agent and /monitor on C, plus /monitor on A and B. */
  async function spread(): Promise<{ x: Cast; monitors: TestClient[] }> {
    const x = await cast(a, { req: a.url, oth: b.url, adm: b.url, mon: c.url, ag: c.url });
    const monitors = [x.mon, await connect(a.url, 'monitor', { token: a.adminToken }), await connect(b.url, 'monitor', { token: b.adminToken })];
    return { x, monitors };
  }

  it('requester on A, admin on B, agent on C: the whole approve flow, the directive sent exactly once', async () => {
    const { x, monitors } = await spread();
    const p = (await fileRequest(x, 'compact the database')).payload as any;
    await x.adm.waitFor(isAuth('AUTH_REQUEST', p.action_id));
    for (const m of monitors) await m.waitFor(isAuth('AUTH_REQUEST', p.action_id));

    expect(await decide(x.adm, p.action_id, true)).toEqual({ ok: true, action_id: p.action_id, status: 'APPROVED' });
    const isDirective = (e: Envelope) => e.type === 'CHAT' && e.sender_id === x.butler && e.target_id === x.agent.agent.id;
    const directive = await x.ag!.waitFor(isDirective);
    expect(directive.payload).toBe('[DIRECTIVE] compact the database');
    const answer = await x.ag!.send({ type: 'CHAT', target_id: x.butler, payload: 'compacted 3 tables', reply_to: directive.id });
    expect(answer.ok).toBe(true);

    const done = await x.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'COMPLETED'));
    expect((done.payload as any).result).toBe('compacted 3 tables');
    await x.req.waitFor((e) => e.type === 'CHAT' && e.sender_id === x.butler && String(e.payload).includes('compacted 3 tables'));
    await sleep(500);
    expect(x.ag!.received.filter(isDirective)).toHaveLength(1);
    for (const who of [x.req, x.adm, ...monitors]) expect(statuses(who, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    for (const m of monitors) {
      const mirrored = m.received.filter((e) => e.type === 'BUTLER_AGENT_MESSAGE' && (e.payload as any).agent_id === x.agent.agent.id);
      expect(mirrored.map((e) => (e.payload as any).direction)).toEqual(['TO_AGENT', 'FROM_AGENT']);
    }
    for (const who of [x.req, x.oth, x.adm]) expect(who.received.filter((e) => e.type === 'BUTLER_AGENT_MESSAGE')).toEqual([]);
    expect(x.oth.received.filter((e) => (e.payload as any)?.action_id === p.action_id)).toEqual([]);
    const rows = (await c.api.get('/api/chat/auth/requests', x.requester.token)).body;
    expect(rows[0]).toMatchObject({ action_id: p.action_id, status: 'COMPLETED', result: 'compacted 3 tables' });
  });

  it('approvals racing on all three replicas: one wins, the directive is sent once', async () => {
    const { x } = await spread();
    const p = (await fileRequest(x, 'race me')).payload as any;
    const admA = await connect(a.url, 'chat', { token: a.adminToken });
    const admC = await connect(c.url, 'chat', { token: c.adminToken });
    const results = await Promise.all([
      ...[admA, x.adm, admC].map(async (who) => ((await decide(who, p.action_id, true)).ok ? 'won' : 'lost')),
      ...[a, b, c].map(async (s) => ((await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, s.adminToken)).status === 200 ? 'won' : 'lost')),
    ]);
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    const isDirective = (e: Envelope) => e.type === 'CHAT' && e.sender_id === x.butler && e.target_id === x.agent.agent.id;
    await x.ag!.waitFor(isDirective);
    await sleep(500);
    expect(x.ag!.received.filter(isDirective)).toHaveLength(1);
    expect(statuses(x.req, p.action_id)).toEqual(['APPROVED', 'EXECUTING']);
  });

  it('expiry is announced exactly once although all three replicas sweep', async () => {
    const { x, monitors } = await spread();
    const p = (await fileRequest(x, 'let it lapse')).payload as any;
    await x.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'), AUTH_TIMEOUT_MS + 5_000);
    await sleep(2_500); // several more sweeps on every replica
    expect(x.req.received.filter(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'))).toHaveLength(1);
    for (const who of [x.req, x.adm, ...monitors]) expect(statuses(who, p.action_id)).toEqual(['EXPIRED']);
    const outcomes = x.req.received.filter((e) => e.type === 'CHAT' && e.sender_id === x.butler && String(e.payload).includes('expired'));
    expect(outcomes).toHaveLength(1);
    expect(x.ag!.received).toEqual([]);
  });
});
