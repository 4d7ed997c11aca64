import { closeAll, connect, createAgent, createHuman, startTestApp, type TestApp } from '../support';

describe('Butler smoke (rules)', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp();
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('answers, files a request, runs it after approval', async () => {
    const butler = (await s.api.get('/api/users/butler', s.adminToken)).body;
    expect(butler.mode).toBe('rules');
    const member = await createHuman(s.api, s.adminToken, 'alice');
    const agent = await createAgent(s.api, s.adminToken, 'bot');
    const m = await connect(s.url, 'chat', { token: member.token });
    const admin = await connect(s.url, 'chat', { token: s.adminToken });
    const mon = await connect(s.url, 'monitor', { token: s.adminToken });
    const a = await connect(s.url, 'agents', { token: agent.token });
    const ack = await m.send({ type: 'CHAT', target_id: butler.id, payload: 'list agents' });
    expect(ack.ok).toBe(true);
    const end = await m.waitFor((e) => e.type === 'CHAT_STREAM_END');
    const final = m.received.find((e) => e.type === 'CHAT' && e.sender_id === butler.id)!;
    expect(final.stream_id).toBe(end.stream_id);
    expect(final.reply_to).toBe((ack as any).id);
    expect(final.payload).toContain('bot — online');
    const chunks = m.received.filter((e) => e.type === 'CHAT_STREAM').map((e) => e.payload).join('');
    expect(chunks).toBe(final.payload);

    await m.send({ type: 'CHAT', target_id: butler.id, payload: 'Ask bot to restart the cache' });
    const req = await admin.waitFor((e) => e.type === 'AUTH_REQUEST');
    const p = req.payload as any;
    expect(p).toMatchObject({ target_agent_id: agent.agent.id, command: 'restart the cache', status: 'PENDING', requested_by: member.user.id });
    await m.waitFor((e) => e.type === 'AUTH_REQUEST');
    await mon.waitFor((e) => e.type === 'AUTH_REQUEST');
    const denied = await m.send({ type: 'AUTH_RESPONSE', payload: { action_id: p.action_id, approved: true } });
    expect(denied).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    const decided = await admin.send({ type: 'AUTH_RESPONSE', payload: { action_id: p.action_id, approved: true } });
    expect(decided).toEqual({ ok: true, action_id: p.action_id, status: 'APPROVED' });
    const again = await admin.send({ type: 'AUTH_RESPONSE', payload: { action_id: p.action_id, approved: false } });
    expect(again).toMatchObject({ ok: false, code: 'CONFLICT' });
    const directive = await a.waitFor((e) => e.type === 'CHAT' && e.sender_id === butler.id);
    expect(directive.payload).toBe('[DIRECTIVE] restart the cache');
    await mon.waitFor((e) => e.type === 'BUTLER_AGENT_MESSAGE' && (e.payload as any).direction === 'TO_AGENT');
    await a.send({ type: 'CHAT', target_id: butler.id, payload: 'cache restarted', reply_to: directive.id });
    await m.waitFor((e) => e.type === 'AUTH_STATUS_UPDATE' && (e.payload as any).status === 'COMPLETED');
    const outcome = await m.waitFor((e) => e.type === 'CHAT' && e.sender_id === butler.id && String(e.payload).includes('cache restarted'));
    expect(outcome.payload).toContain('bot finished');
    const statuses = m.received.filter((e) => e.type === 'AUTH_STATUS_UPDATE').map((e) => (e.payload as any).status);
    expect(statuses).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    const list = await s.api.get('/api/chat/auth/requests', member.token);
    expect(list.body[0]).toMatchObject({ action_id: p.action_id, status: 'COMPLETED', result: 'cache restarted', decided_by: 2 });
  });
});
