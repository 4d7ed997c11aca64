/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Who may decide and read authorization requests (PROTOCOL §2 `/api/chat/auth/*`, §3.2 AUTH_RESPONSE):
 * members and agents are refused, unknown ids are 404, malformed decisions are 400, and the list
 * shows a member their own requests and an admin all of them, filtered and paged.
 */
import { closeAll, connect, dbKinds, expectError, sleep, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';
import { type Cast, cast, decide, fileRequest, statuses } from './butler-helpers';
import type { Envelope } from '../../src/shared/protocol';

warnIfPostgresSkipped('butler authorization access');

const directiveTo = (c: Cast) => (e: Envelope) => e.type === 'CHAT' && e.sender_id === c.butler && e.target_id === c.agent.agent.id;

describe.each(dbKinds())('authorization requests: access, validation and listing on %s', (kind) => {
  let s: TestApp;

  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterEach(() => closeAll());
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  async function rows(token: string, query = '') {
    const res = await s.api.get(`/api/chat/auth/requests${query}`, token);
    expect(res.status).toBe(200);
    return res.body as any[];
  }

  it('a MEMBER may not decide (FORBIDDEN on the socket, 403 over REST), not even their own request', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'member tries')).payload as any;
    for (const who of [c.req, c.oth]) {
      expect(await decide(who, p.action_id, true)).toMatchObject({ ok: false, code: 'FORBIDDEN', error: expect.any(String) });
    }
    expectError(await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, c.requester.token), 403, 'FORBIDDEN');
    expectError(await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, c.other.token), 403, 'FORBIDDEN');
    await sleep(200);
    expect(statuses(c.req, p.action_id)).toEqual([]);
    expect((await rows(c.requester.token)).find((r) => r.action_id === p.action_id)).toMatchObject({ status: 'PENDING', decided_by: null });
    expect(c.req.socket.connected).toBe(true);
  });


  it('an agent may not decide: FORBIDDEN on the socket, 401 with its token over REST', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'agent tries')).payload as any;
    expect(await decide(c.ag!, p.action_id, true)).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    expectError(await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, c.agent.token), 401, 'UNAUTHORIZED');
    expectError(await s.api.get('/api/chat/auth/requests', c.agent.token), 401, 'UNAUTHORIZED');
    await sleep(200);
    expect(statuses(c.req, p.action_id)).toEqual([]);
    expect(c.ag!.received.filter(directiveTo(c))).toEqual([]);
  });


  it('an unknown action_id is NOT_FOUND on the socket and 404 over REST', async () => {
    const adm = await connect(s.url, 'chat', { token: s.adminToken });
    expect(await decide(adm, 'act_does_not_exist', true)).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expectError(await s.api.post('/api/chat/auth/response', { action_id: 'act_does_not_exist', approved: false }, s.adminToken), 404, 'NOT_FOUND');
  });


  it('POST /api/chat/auth/response refuses malformed bodies with 400 VALIDATION_ERROR and decides nothing', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'validate me')).payload as any;
    const bad: unknown[] = [
      {},
      { action_id: p.action_id },
      { approved: true },
      { action_id: p.action_id, approved: 'yes' },
      { action_id: p.action_id, approved: 1 },
      { action_id: 42, approved: true },
      { action_id: '', approved: true },
      { action_id: 'x'.repeat(65), approved: true },
      [p.action_id, true],
    ];
    for (const body of bad) expectError(await s.api.post('/api/chat/auth/response', body, s.adminToken), 400, 'VALIDATION_ERROR');
    expectError(await s.api.request('POST', '/api/chat/auth/response', undefined, { token: s.adminToken, raw: '{"action_id": ' }), 400, 'VALIDATION_ERROR');
    expectError(await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }), 401, 'UNAUTHORIZED');
    // The socket refuses the same shapes.
    for (const payload of [{}, { action_id: p.action_id }, { action_id: p.action_id, approved: 'true' }, 'approve']) {
      expect(await c.adm.send({ type: 'AUTH_RESPONSE', payload })).toMatchObject({ ok: false, code: 'VALIDATION_ERROR' });
    }
    await sleep(200);
    expect(statuses(c.req, p.action_id)).toEqual([]);
    expect((await rows(s.adminToken)).find((r) => r.action_id === p.action_id)).toMatchObject({ status: 'PENDING' });
  });


  it('GET /api/chat/auth/requests: a member sees only their own, an admin all; ?status= filters; before_id pages newest first', async () => {
    const c1 = await cast(s);
    const c2 = await cast(s);
    const a1 = ((await fileRequest(c1, 'list one')).payload as any).action_id;
    const a2 = ((await fileRequest(c1, 'list two')).payload as any).action_id;
    const b1 = ((await fileRequest(c2, 'list three')).payload as any).action_id;
    const a3 = ((await fileRequest(c1, 'list four')).payload as any).action_id;
    expect((await decide(c1.adm, a2, false)).ok).toBe(true);

    const mine = await rows(c1.requester.token);
    expect(mine.map((r) => r.action_id)).toEqual([a3, a2, a1]);
    expect(mine.every((r) => r.requested_by === c1.requester.user.id)).toBe(true);
    expect((await rows(c2.requester.token)).map((r) => r.action_id)).toEqual([b1]);
    expect(await rows(c1.other.token)).toEqual([]);

    const all = await rows(s.adminToken, '?limit=200');
    expect(all.slice(0, 4).map((r) => r.action_id)).toEqual([a3, b1, a2, a1]);
    const ids = all.map((r) => r.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));

    expect((await rows(c1.requester.token, '?status=PENDING')).map((r) => r.action_id)).toEqual([a3, a1]);
    expect((await rows(c1.requester.token, '?status=REJECTED')).map((r) => r.action_id)).toEqual([a2]);
    const rejected = await rows(s.adminToken, '?status=REJECTED&limit=200');
    expect(rejected.map((r) => r.action_id)).toContain(a2);
    expect(rejected.every((r) => r.status === 'REJECTED')).toBe(true);

    const page1 = await rows(s.adminToken, '?limit=2');
    expect(page1.map((r) => r.action_id)).toEqual([a3, b1]);
    const page2 = await rows(s.adminToken, `?limit=2&before_id=${page1[1].id}`);
    expect(page2.map((r) => r.action_id)).toEqual([a2, a1]);
    const minePage = await rows(c1.requester.token, `?limit=1&before_id=${mine[0].id}`);
    expect(minePage.map((r) => r.action_id)).toEqual([a2]);
    expect(await rows(c2.requester.token, `?before_id=${mine[2].id}`)).toEqual([]);

    for (const q of ['?status=BOGUS', '?status=pending', '?limit=0', '?limit=abc', '?before_id=abc', '?before_id=-1']) {
      expectError(await s.api.get(`/api/chat/auth/requests${q}`, s.adminToken), 400, 'VALIDATION_ERROR');
    }
    expectError(await s.api.get('/api/chat/auth/requests'), 401, 'UNAUTHORIZED');
  });
});
