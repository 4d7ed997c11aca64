/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * A pending authorization survives a restart (PROTOCOL §6): the app is closed and a new one starts on
 * the same database (the SQLite file, or the PostgreSQL database); the request is still there to be
 * approved, the agent connected to the new app gets the directive once, and expiry still happens.
 */
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, connect, createDb, dbKinds, sleep, startTestApp, type TestApp, type TestDb, warnIfPostgresSkipped } from '../support';
import { cast, decide, fileRequest, isAuth, statuses } from './butler-helpers';

warnIfPostgresSkipped('butler restart');

describe.each(dbKinds())('a pending request across a restart on %s', (kind) => {
  let db: TestDb;
  const servers: TestApp[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const s = await startTestApp({ db, env });
    servers.push(s);
    return s;
  };
  const stop = async (s: TestApp) => {
    closeAll();
    await s.close();
  };

  beforeAll(async () => {
    db = await createDb(kind);
  });
  afterAll(async () => {
    closeAll();
    for (const s of servers) await s.close(); // close() is idempotent
    await db?.drop();
  });

  it('is approved on the new app and its directive reaches the agent connected there, once', async () => {
    const first = await start();
    const c = await cast(first);
    const request = await fileRequest(c, 'survive the restart');
    const p = request.payload as any;
    await stop(first);

    const second = await start();
    const listed = await second.api.get('/api/chat/auth/requests?status=PENDING', c.requester.token);
    expect(listed.body.map((r: any) => r.action_id)).toEqual([p.action_id]);
    const req = await connect(second.url, 'chat', { token: c.requester.token, last_id: request.id });
    const adm = await connect(second.url, 'chat', { token: second.adminToken });
    const mon = await connect(second.url, 'monitor', { token: second.adminToken });
    const ag = await connect(second.url, 'agents', { token: c.agent.token });
    await mon.waitFor((e) => e.type === 'PRESENCE' && (e.payload as any).id === c.agent.agent.id && (e.payload as any).online === true);

    expect(await decide(adm, p.action_id, true)).toEqual({ ok: true, action_id: p.action_id, status: 'APPROVED' });
    const isDirective = (e: Envelope) => e.type === 'CHAT' && e.sender_id === c.butler && e.target_id === c.agent.agent.id;
    const directive = await ag.waitFor(isDirective);
    expect(directive.payload).toBe('[DIRECTIVE] survive the restart');
    await ag.send({ type: 'CHAT', target_id: c.butler, payload: 'survived', reply_to: directive.id });
    await req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'COMPLETED'));
    await sleep(300);
    expect(ag.received.filter(isDirective)).toHaveLength(1);
    expect(statuses(req, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    expect(statuses(adm, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    expect(mon.received.filter((e) => e.type === 'BUTLER_AGENT_MESSAGE').map((e) => (e.payload as any).direction)).toEqual(['TO_AGENT', 'FROM_AGENT']);
    await stop(second);
  });

  it('still expires after a restart, announced once', async () => {
    const first = await start({ BUTLER_AUTH_TIMEOUT: '2500ms' });
    const c = await cast(first);
    const request = await fileRequest(c, 'expire across the restart');
    const p = request.payload as any;
    await stop(first);
    const firstClosedAt = Date.now();
    expect(firstClosedAt).toBeLessThan(Date.parse(p.expires_at)); // so the new app is the one that expires it

    const second = await start();
    // Replay from the request's id: the EXPIRED update arrives whether it was stored before or after we connected.
    const req = await connect(second.url, 'chat', { token: c.requester.token, last_id: request.id });
    const adm = await connect(second.url, 'chat', { token: second.adminToken, last_id: request.id });
    const expired = await req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'), 7_000);
    expect(expired.payload).toEqual({ action_id: p.action_id, status: 'EXPIRED', decided_by: null, decided_at: null, result: null });
    expect(Date.parse(expired.timestamp)).toBeGreaterThanOrEqual(firstClosedAt);
    expect(Date.parse(expired.timestamp) - Date.parse(p.expires_at)).toBeLessThan(5_000);
    await adm.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'));
    await sleep(1_100);
    expect(statuses(req, p.action_id)).toEqual(['EXPIRED']);
    expect(statuses(adm, p.action_id)).toEqual(['EXPIRED']);
    expect((await decide(adm, p.action_id, true))).toMatchObject({ ok: false, code: 'CONFLICT' });
    await stop(second);
  });
});
