/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The authorization lifecycle (PROTOCOL §6, §2 `/api/chat/auth/*`, §3.2 AUTH_* and
 * BUTLER_AGENT_MESSAGE), with what each party receives: the requester, a member who must receive
 * nothing, an admin on /chat, /monitor and the agent.
 */
import { closeAll, connect, createAgent, createHuman, dbKinds, eventually, expectError, expectNothing, ISO_MS, sleep, startTestApp, type TestApp, uniqueName, warnIfPostgresSkipped } from '../support';
import { type Cast, cast, decide, fileRequest, isAuth, say, statuses } from './butler-helpers';
import type { Envelope } from '../../src/shared/protocol';

warnIfPostgresSkipped('butler authorization');

const directiveTo = (c: Cast) => (e: Envelope) => e.type === 'CHAT' && e.sender_id === c.butler && e.target_id === c.agent.agent.id;
const mirrored = (c: Cast, direction?: string) => (e: Envelope) =>
  e.type === 'BUTLER_AGENT_MESSAGE' && (e.payload as any).agent_id === c.agent.agent.id && (!direction || (e.payload as any).direction === direction);
const about = (actionId: string) => (e: Envelope) => (e.payload as any)?.action_id === actionId;

describe.each(dbKinds())('the authorization lifecycle on %s', (kind) => {
  let s: TestApp;
  let adminId: number;

  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    const me = await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    adminId = me.body.user.id;
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

  it('approve: APPROVED → EXECUTING → COMPLETED, the directive once, the answer stored, each party told what it may know', async () => {
    const c = await cast(s);
    const filedAt = Date.now();
    const request = await fileRequest(c, 'restart the cache');
    const p = request.payload as any;

    // AUTH_REQUEST: stored (it has an id), from the Butler, to the requester, every admin and /monitor.
    expect(request).toMatchObject({ id: expect.any(Number), type: 'AUTH_REQUEST', sender_id: c.butler, sender_role: 'BUTLER', target_id: c.requester.user.id });
    expect(Object.keys(p).sort()).toEqual(['action_id', 'command', 'expires_at', 'reason', 'requested_by', 'status', 'target_agent_id', 'target_agent_name'].sort());
    expect(p).toMatchObject({ target_agent_id: c.agent.agent.id, target_agent_name: c.agentName, command: 'restart the cache', status: 'PENDING', requested_by: c.requester.user.id });
    expect(p.expires_at).toMatch(ISO_MS);
    expect(Date.parse(p.expires_at) - filedAt).toBeGreaterThan(9 * 60_000); // BUTLER_AUTH_TIMEOUT defaults to 10 minutes
    expect(Date.parse(p.expires_at) - filedAt).toBeLessThanOrEqual(10 * 60_000 + 5_000);
    expect((await c.adm.waitFor(isAuth('AUTH_REQUEST', p.action_id))).id).toBe(request.id);
    expect((await c.mon.waitFor(isAuth('AUTH_REQUEST', p.action_id))).id).toBe(request.id);

    const ack = await decide(c.adm, p.action_id, true);
    expect(ack).toEqual({ ok: true, action_id: p.action_id, status: 'APPROVED' });

    const directive = await c.ag!.waitFor(directiveTo(c));
    expect(directive).toMatchObject({ id: expect.any(Number), sender_role: 'BUTLER', payload: '[DIRECTIVE] restart the cache' });
    const toAgent = await c.mon.waitFor(mirrored(c, 'TO_AGENT'));
    expect(toAgent).toMatchObject({ sender_id: 0, sender_role: 'SYSTEM', payload: { agent_id: c.agent.agent.id, direction: 'TO_AGENT', message: directive } });
    expect(toAgent.id).toBeUndefined();

    const answer = await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'cache restarted in 2.1 s', reply_to: directive.id });
    expect(answer.ok).toBe(true);
    const fromAgent = await c.mon.waitFor(mirrored(c, 'FROM_AGENT'));
    expect(fromAgent.payload).toMatchObject({ agent_id: c.agent.agent.id, direction: 'FROM_AGENT', message: { id: (answer as any).id, sender_id: c.agent.agent.id, reply_to: directive.id, payload: 'cache restarted in 2.1 s' } });

    const completed = await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'COMPLETED'));
    expect(completed).toMatchObject({ id: expect.any(Number), sender_id: c.butler, sender_role: 'BUTLER' });
    expect(completed.payload).toEqual({ action_id: p.action_id, status: 'COMPLETED', decided_by: adminId, decided_at: expect.stringMatching(ISO_MS), result: 'cache restarted in 2.1 s' });
    const outcome = await c.req.waitFor((e) => e.type === 'CHAT' && e.sender_id === c.butler && e.reply_to == null && String(e.payload).includes('cache restarted'));
    expect(outcome.payload).toBe(`${c.agentName} finished "restart the cache":\ncache restarted in 2.1 s`);

    // Every change, in order, exactly once, to the requester, the admin and /monitor.
    for (const who of [c.req, c.adm, c.mon]) {
      await eventually(() => expect(statuses(who, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']));
    }
    const approved = c.req.received.find(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'APPROVED'))!;
    expect(approved.payload).toEqual({ action_id: p.action_id, status: 'APPROVED', decided_by: adminId, decided_at: expect.stringMatching(ISO_MS), result: null });

    await sleep(200);
    // The agent got the directive once and no authorization traffic; nobody else got Butler↔agent traffic.
    expect(c.ag!.received.filter(directiveTo(c))).toHaveLength(1);
    expect(c.ag!.received.filter((e) => e.type.startsWith('AUTH_'))).toEqual([]);
    expect(c.mon.received.filter(mirrored(c))).toHaveLength(2);
    for (const who of [c.req, c.oth, c.adm]) expect(who.received.filter((e) => e.type === 'BUTLER_AGENT_MESSAGE')).toEqual([]);
    for (const who of [c.req, c.adm]) expect(who.received.some((e) => e.id === directive.id || e.id === (answer as any).id)).toBe(false);
    // The other member received nothing of any of it.
    expect(c.oth.received.filter((e) => e.sender_id === c.butler || about(p.action_id)(e))).toEqual([]);
    // The outcome CHAT is the requester's, not the admin's.
    expect(c.adm.received.some((e) => e.id === outcome.id)).toBe(false);

    // Stored: the request with its result, readable by the requester and the admin.
    const [row] = (await rows(c.requester.token)).filter((r) => r.action_id === p.action_id);
    expect(row).toEqual({
      id: expect.any(Number),
      action_id: p.action_id,
      target_agent_id: c.agent.agent.id,
      target_agent_name: c.agentName,
      command: 'restart the cache',
      reason: p.reason,
      status: 'COMPLETED',
      requested_by: c.requester.user.id,
      decided_by: adminId,
      decided_at: (completed.payload as any).decided_at,
      expires_at: p.expires_at,
      created_at: expect.stringMatching(ISO_MS),
      result: 'cache restarted in 2.1 s',
    });
    expect((await rows(s.adminToken)).find((r) => r.action_id === p.action_id)).toEqual(row);
    // The Butler↔agent conversation holds the directive once and the answer.
    const convo = await s.api.get(`/api/chat/butler-agent/${c.agent.agent.id}`, s.adminToken);
    expect(convo.status).toBe(200);
    expect(convo.body.map((m: any) => m.payload)).toEqual(['[DIRECTIVE] restart the cache', 'cache restarted in 2.1 s']);
  });

  it('approve over REST: 200 {action_id, status}, then the same lifecycle', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'rotate logs')).payload as any;
    const res = await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ action_id: p.action_id, status: 'APPROVED' });
    const directive = await c.ag!.waitFor(directiveTo(c));
    await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'rotated', reply_to: directive.id });
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'COMPLETED'));
    expect(statuses(c.req, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
  });

  it('an answer without reply_to completes the oldest unanswered directive of that agent', async () => {
    const c = await cast(s);
    const first = (await fileRequest(c, 'job one')).payload as any;
    const second = (await fileRequest(c, 'job two')).payload as any;
    expect((await decide(c.adm, first.action_id, true)).ok).toBe(true);
    expect((await decide(c.adm, second.action_id, true)).ok).toBe(true);
    await eventually(() => expect(c.ag!.received.filter(directiveTo(c))).toHaveLength(2));

    await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'one is done' });
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', first.action_id, 'COMPLETED'));
    await sleep(150);
    const byId = async () => Object.fromEntries((await rows(s.adminToken)).map((r) => [r.action_id, r]));
    expect((await byId())[first.action_id]).toMatchObject({ status: 'COMPLETED', result: 'one is done' });
    expect((await byId())[second.action_id]).toMatchObject({ status: 'EXECUTING', result: null });

    await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'two is done' });
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', second.action_id, 'COMPLETED'));
    expect((await byId())[second.action_id]).toMatchObject({ status: 'COMPLETED', result: 'two is done' });
  });

  it("an agent cannot complete another agent's directive by replying to it", async () => {
    const c = await cast(s);
    const intruder = await createAgent(s.api, s.adminToken, uniqueName('evil'));
    const ev = await connect(s.url, 'agents', { token: intruder.token });
    const p = (await fileRequest(c, 'guarded job')).payload as any;
    await decide(c.adm, p.action_id, true);
    const directive = await c.ag!.waitFor(directiveTo(c));

    expect((await ev.send({ type: 'CHAT', target_id: c.butler, payload: 'done (not really)', reply_to: directive.id })).ok).toBe(true);
    await sleep(300);
    expect(statuses(c.req, p.action_id)).toEqual(['APPROVED', 'EXECUTING']);
    expect((await rows(s.adminToken)).find((r) => r.action_id === p.action_id)).toMatchObject({ status: 'EXECUTING', result: null });
  });

  it('reject: REJECTED with result null, the requester is told, nothing reaches the agent, a later approval is 409', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'drop the table')).payload as any;
    const res = await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: false }, s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ action_id: p.action_id, status: 'REJECTED' });

    for (const who of [c.req, c.adm, c.mon]) {
      const u = await who.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'REJECTED'));
      expect(u.payload).toEqual({ action_id: p.action_id, status: 'REJECTED', decided_by: adminId, decided_at: expect.stringMatching(ISO_MS), result: null });
    }
    const outcome = await c.req.waitFor((e) => e.type === 'CHAT' && e.sender_id === c.butler && String(e.payload).includes('rejected'));
    expect(outcome.payload).toBe(`An admin rejected "drop the table" for ${c.agentName}.`);

    expectError(await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, s.adminToken), 409, 'CONFLICT');
    expect(await decide(c.adm, p.action_id, true)).toMatchObject({ ok: false, code: 'CONFLICT', error: expect.any(String) });
    await sleep(300);
    expect(statuses(c.req, p.action_id)).toEqual(['REJECTED']);
    expect(c.ag!.received).toEqual([]);
    expect(c.mon.received.filter(mirrored(c))).toEqual([]);
    expect(c.oth.received.filter((e) => e.sender_id === c.butler || about(p.action_id)(e))).toEqual([]);
    expect((await rows(c.requester.token)).find((r) => r.action_id === p.action_id)).toMatchObject({ status: 'REJECTED', result: null, decided_by: adminId });
  });

  it('a second decision gets CONFLICT on the socket and 409 over REST, and the directive goes out once', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'once only')).payload as any;
    expect(await decide(c.adm, p.action_id, true)).toMatchObject({ ok: true, status: 'APPROVED' });
    expect(await decide(c.adm, p.action_id, true)).toMatchObject({ ok: false, code: 'CONFLICT' });
    expect(await decide(c.adm, p.action_id, false)).toMatchObject({ ok: false, code: 'CONFLICT' });
    expectError(await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: false }, s.adminToken), 409, 'CONFLICT');
    await c.ag!.waitFor(directiveTo(c));
    await sleep(300);
    expect(c.ag!.received.filter(directiveTo(c))).toHaveLength(1);
    expect(statuses(c.req, p.action_id)).toEqual(['APPROVED', 'EXECUTING']);
    expect(c.adm.socket.connected).toBe(true);
  });

  it('10 simultaneous approvals over REST and sockets from two admins: exactly one wins, the directive is sent once', async () => {
    const c = await cast(s);
    const admin2 = await createHuman(s.api, s.adminToken, uniqueName('adm'), 'ADMIN');
    const adm2 = await connect(s.url, 'chat', { token: admin2.token });
    const p = (await fileRequest(c, 'exactly once')).payload as any;

    const outcomes = await Promise.all([
      ...[s.adminToken, admin2.token, s.adminToken, admin2.token, s.adminToken].map(async (token) => {
        const res = await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, token);
        return res.status === 200 ? 'won' : `${res.status}:${res.body?.code}`;
      }),
      ...[c.adm, adm2, c.adm, adm2, c.adm].map(async (who) => {
        const ack = await decide(who, p.action_id, true);
        return ack.ok ? 'won' : `409:${ack.code}`;
      }),
    ]);

    expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'won')).toEqual(Array(9).fill('409:CONFLICT'));
    await c.ag!.waitFor(directiveTo(c));
    await sleep(500);
    expect(c.ag!.received.filter(directiveTo(c))).toHaveLength(1);
    expect(c.mon.received.filter(mirrored(c, 'TO_AGENT'))).toHaveLength(1);
    expect(statuses(c.req, p.action_id)).toEqual(['APPROVED', 'EXECUTING']);
    const convo = await s.api.get(`/api/chat/butler-agent/${c.agent.agent.id}`, s.adminToken);
    expect(convo.body.filter((m: any) => m.payload === '[DIRECTIVE] exactly once')).toHaveLength(1);
  });

  it('an admin who asks gets each AUTH_* message once on a socket that is both requester and admin', async () => {
    const c = await cast(s);
    const admin2 = await createHuman(s.api, s.adminToken, uniqueName('adm'), 'ADMIN');
    const self = await connect(s.url, 'chat', { token: admin2.token });
    await say(self, c.butler, `ask ${c.agentName} to self-approved job`);
    const req = await self.waitFor(isAuth('AUTH_REQUEST'));
    const p = req.payload as any;
    expect(p.requested_by).toBe(admin2.user.id);
    expect(await decide(self, p.action_id, true)).toMatchObject({ ok: true, status: 'APPROVED' });
    const directive = await c.ag!.waitFor(directiveTo(c));
    await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'ok', reply_to: directive.id });
    await self.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'COMPLETED'));
    await sleep(200);
    expect(self.received.filter(isAuth('AUTH_REQUEST', p.action_id))).toHaveLength(1);
    expect(statuses(self, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    expect(statuses(c.adm, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    // The requester who is not involved sees none of it.
    expect(c.req.received.filter(about(p.action_id))).toEqual([]);
  });

  it("BUTLER_AGENT_MESSAGE mirrors an agent's stray CHAT to the Butler on /monitor only", async () => {
    const c = await cast(s);
    const member2Tab = await connect(s.url, 'chat', { token: c.requester.token });
    const ack = await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'status: all green' });
    expect(ack.ok).toBe(true);
    const m = await c.mon.waitFor(mirrored(c, 'FROM_AGENT'));
    expect(m.payload).toMatchObject({ message: { id: (ack as any).id, payload: 'status: all green', sender_id: c.agent.agent.id, target_id: c.butler } });
    for (const who of [c.req, member2Tab, c.oth, c.adm, c.ag!]) await expectNothing(who, (e) => e.type === 'BUTLER_AGENT_MESSAGE', 0);
    // /monitor is admin-only, so no member can ever subscribe to it.
    await expect(connect(s.url, 'monitor', { token: c.requester.token })).rejects.toMatchObject({ message: 'forbidden' });
  });

});
