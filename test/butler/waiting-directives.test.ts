/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Directives that wait for their agent (PROTOCOL §6.4-5): an approved action whose agent has no socket
 * stays APPROVED, its directive stored; the agent's next handshake (with or without `last_id`, on a
 * restarted app too) delivers it, which moves the action to EXECUTING; BUTLER_DELIVERY_TIMEOUT fails
 * it once. Open directives reach the agent at every handshake, finished ones only by explicit replay.
 * A rejection may carry a reason.
 */
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, connect, createDb, dbKinds, eventually, expectNothing, expectRefused, okAck, sleep, startTestApp, type TestApp, type TestDb, warnIfPostgresSkipped } from '../support';
import { type Cast, cast, decide, fileRequest, isAuth, statuses } from './butler-helpers';

warnIfPostgresSkipped('butler waiting directives');

const directiveOf = (c: Cast, command: string) => (e: Envelope) =>
  e.type === 'CHAT' && e.sender_id === c.butler && e.target_id === c.agent.agent.id && e.payload === `[DIRECTIVE] ${command}`;
const outcomeFor = (c: Cast, text: string) => (e: Envelope) => e.type === 'CHAT' && e.sender_id === c.butler && e.reply_to == null && String(e.payload).includes(text);

/** Files and approves `command` while the cast's agent is offline; resolves with the action id. */
async function approvedWhileAway(c: Cast, command: string): Promise<string> {
  const p = (await fileRequest(c, command)).payload as any;
  expect(await decide(c.adm, p.action_id, true)).toEqual({ ok: true, action_id: p.action_id, status: 'APPROVED' });
  return p.action_id;
}

describe.each(dbKinds())('directives that wait for their agent on %s', (kind) => {
  let db: TestDb;
  let s: TestApp;
  beforeAll(async () => {
    db = await createDb(kind);
    s = await startTestApp({ db, env: { BUTLER_AGENT_TIMEOUT: '2s' } });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
    await db?.drop();
  });

  it('an agent offline at approval gets the directive when it first connects, and the action completes', async () => {
    const c = await cast(s, {}, { agentOnline: false });
    const actionId = await approvedWhileAway(c, 'count the files');
    // It waits: no FAILED, still APPROVED as stored.
    await expectNothing(c.req, isAuth('AUTH_STATUS_UPDATE', actionId, 'FAILED'), 500);
    const listed = (await s.api.get('/api/chat/auth/requests', s.adminToken)).body.find((r: any) => r.action_id === actionId);
    expect(listed.status).toBe('APPROVED');

    // First connection ever, no last_id: the open directive comes before anything else, once.
    const ag = await connect(s.url, 'agents', { token: c.agent.token });
    const directive = await ag.waitFor(directiveOf(c, 'count the files'));
    expect(directive).toMatchObject({ id: expect.any(Number), local_id: actionId, sender_role: 'BUTLER' });
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', actionId, 'EXECUTING'));
    okAck(await ag.send({ type: 'CHAT', target_id: c.butler, payload: '1,204 files', reply_to: directive.id }));
    await c.req.waitFor(outcomeFor(c, '1,204 files'));
    for (const who of [c.req, c.adm, c.mon]) expect(statuses(who, actionId)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    expect(ag.received.filter(directiveOf(c, 'count the files'))).toHaveLength(1);
    expect(ag.events.filter((e) => e.event === 'replay:done')).toEqual([]);
  });

  it('open directives reach the agent at every handshake whatever last_id says; finished ones only by explicit replay', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'inventory the racks')).payload as any;
    okAck(await decide(c.adm, p.action_id, true));
    const first = await c.ag!.waitFor(directiveOf(c, 'inventory the racks'));
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXECUTING'));
    c.ag!.close();

    // Reconnects claiming to have seen everything up to the directive and beyond: it is still open.
    const again = await connect(s.url, 'agents', { token: c.agent.token, last_id: first.id! + 1000 });
    await again.waitEvent('replay:done');
    const copies = again.received.filter(directiveOf(c, 'inventory the racks'));
    expect(copies.map((e) => e.id)).toEqual([first.id]);
    // Before replay:done and anything live.
    expect(again.events.findIndex((e) => e.event === 'replay:done')).toBeGreaterThan(again.events.findIndex((e) => (e.data as any)?.id === first.id));
    okAck(await again.send({ type: 'CHAT', target_id: c.butler, payload: '42 racks', reply_to: first.id }));
    await c.req.waitFor(outcomeFor(c, '42 racks'));
    again.close();

    // Finished: a plain reconnect gets nothing, an explicit replay from below it does.
    const plain = await connect(s.url, 'agents', { token: c.agent.token });
    await expectNothing(plain, directiveOf(c, 'inventory the racks'), 300);
    const replayer = await connect(s.url, 'agents', { token: c.agent.token, last_id: first.id! - 1 });
    await replayer.waitEvent('replay:done');
    expect(replayer.received.filter(directiveOf(c, 'inventory the racks')).map((e) => e.id)).toEqual([first.id]);
    // Still one EXECUTING and one COMPLETED: redelivery moved nothing.
    expect(statuses(c.req, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
  });

  it('a waiting directive below last_id comes before the replay, each message once, in id order', async () => {
    const c = await cast(s, {}, { agentOnline: false });
    const actionId = await approvedWhileAway(c, 'sort the queue');
    // The directive is stored in the background after the decision's ack.
    let directive: any;
    await eventually(async () => {
      directive = (await s.api.get(`/api/chat/butler-agent/${c.agent.agent.id}`, s.adminToken)).body.find((m: any) => m.local_id === actionId);
      expect(directive).toBeDefined();
    });
    // Something else for the agent after the directive, so that last_id lies between them.
    const later = okAck(await c.adm.send({ type: 'CHAT', target_id: c.agent.agent.id, payload: 'after the directive' }));
    const ag = await connect(s.url, 'agents', { token: c.agent.token, last_id: directive.id });
    await ag.waitEvent('replay:done');
    const ids = ag.received.filter((e) => e.id !== undefined).map((e) => e.id);
    expect(ids).toEqual([directive.id, later.id]);
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', actionId, 'EXECUTING'));
  });

  it('survives a restart: approved while the agent was away, delivered by the new app', async () => {
    const c = await cast(s, {}, { agentOnline: false });
    const actionId = await approvedWhileAway(c, 'outlive the app');
    closeAll();
    await s.close();
    s = await startTestApp({ db, env: { BUTLER_AGENT_TIMEOUT: '2s' } });
    const req = await connect(s.url, 'chat', { token: c.requester.token });
    const ag = await connect(s.url, 'agents', { token: c.agent.token });
    const directive = await ag.waitFor(directiveOf(c, 'outlive the app'));
    okAck(await ag.send({ type: 'CHAT', target_id: c.butler, payload: 'still here', reply_to: directive.id }));
    await req.waitFor(isAuth('AUTH_STATUS_UPDATE', actionId, 'COMPLETED'));
    expect(req.received.filter(isAuth('AUTH_STATUS_UPDATE', actionId)).map((e) => (e.payload as any).status)).toEqual(['EXECUTING', 'COMPLETED']);
  });
});

describe.each(dbKinds())('BUTLER_DELIVERY_TIMEOUT on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind, env: { BUTLER_DELIVERY_TIMEOUT: '1s' } });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('fails an action once when its agent has not connected in time; the directive is never delivered afterwards', async () => {
    const c = await cast(s, {}, { agentOnline: false });
    const actionId = await approvedWhileAway(c, 'wait in vain');
    const failed = await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', actionId, 'FAILED'), 5_000);
    expect((failed.payload as any).result).toBe(`${c.agentName} did not connect within 1 s`);
    const outcome = await c.req.waitFor(outcomeFor(c, 'did not connect'));
    expect(outcome.payload).toBe(`"wait in vain" for ${c.agentName} failed: ${c.agentName} did not connect within 1 s.`);
    await sleep(1_200);
    for (const who of [c.req, c.adm, c.mon]) expect(statuses(who, actionId)).toEqual(['APPROVED', 'FAILED']);
    const ag = await connect(s.url, 'agents', { token: c.agent.token });
    await expectNothing(ag, directiveOf(c, 'wait in vain'), 300);
  });
});

describe.each(dbKinds())('rejections with a reason on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('AUTH_RESPONSE with a reason: stored as the result, told to the requester', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'delete the backups')).payload as any;
    const ack = await c.adm.send({ type: 'AUTH_RESPONSE', payload: { action_id: p.action_id, approved: false, reason: '  backups are needed  ' } });
    expect(ack).toEqual({ ok: true, action_id: p.action_id, status: 'REJECTED' });
    const update = await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'REJECTED'));
    expect((update.payload as any).result).toBe('backups are needed');
    const outcome = await c.req.waitFor(outcomeFor(c, 'rejected'));
    expect(outcome.payload).toBe(`An admin rejected "delete the backups" for ${c.agentName}: backups are needed`);
    await expectNothing(c.ag!, directiveOf(c, 'delete the backups'), 200);
  });

  it('REST rejection with a reason; without one the result stays null; a reason over 500 characters is refused', async () => {
    const c = await cast(s);
    const a = (await fileRequest(c, 'wipe the disk')).payload as any;
    const tooLong = await s.api.post('/api/chat/auth/response', { action_id: a.action_id, approved: false, reason: 'x'.repeat(501) }, s.adminToken);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toEqual({ error: expect.stringContaining('500'), code: 'VALIDATION_ERROR' });
    expectRefused(await c.adm.send({ type: 'AUTH_RESPONSE', payload: { action_id: a.action_id, approved: false, reason: 7 } }), 'VALIDATION_ERROR');

    const res = await s.api.post('/api/chat/auth/response', { action_id: a.action_id, approved: false, reason: 'not today' }, s.adminToken);
    expect(res.body).toEqual({ action_id: a.action_id, status: 'REJECTED' });
    const rows = (await s.api.get('/api/chat/auth/requests', s.adminToken)).body;
    expect(rows.find((r: any) => r.action_id === a.action_id).result).toBe('not today');

    const b = (await fileRequest(c, 'format the disk')).payload as any;
    okAck(await decide(c.adm, b.action_id, false));
    const plain = await c.req.waitFor(outcomeFor(c, '"format the disk"'));
    expect(plain.payload).toBe(`An admin rejected "format the disk" for ${c.agentName}.`);
    const after = (await s.api.get('/api/chat/auth/requests', s.adminToken)).body;
    expect(after.find((r: any) => r.action_id === b.action_id).result).toBeNull();
  });
});
