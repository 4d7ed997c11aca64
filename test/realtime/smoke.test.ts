import { closeAll, connect, createAgent, createHuman, expectNothing, startTestApp, type TestApp } from '../support';

describe('realtime smoke', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp();
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('delivers a member CHAT to an agent and acks with the id', async () => {
    const member = await createHuman(s.api, s.adminToken, 'alice');
    const agent = await createAgent(s.api, s.adminToken, 'bot');
    const m1 = await connect(s.url, 'chat', { token: member.token });
    const m2 = await connect(s.url, 'chat', { token: member.token });
    const a = await connect(s.url, 'agents', { token: agent.token });
    const ack = await m1.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'hello', local_id: 'l1' });
    expect(ack).toMatchObject({ ok: true, local_id: 'l1' });
    const got = await a.waitFor((e) => e.type === 'CHAT');
    expect(got).toMatchObject({ payload: 'hello', sender_id: member.user.id, sender_role: 'MEMBER', id: (ack as any).id });
    await m2.waitFor((e) => e.type === 'CHAT');
    await expectNothing(m1, (e) => e.type === 'CHAT');
    const again = await m1.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'hello', local_id: 'l1' });
    expect(again).toEqual(ack);
    const reply = await a.send({ type: 'CHAT', target_id: member.user.id, payload: 'hi back' });
    expect(reply.ok).toBe(true);
    await m1.waitFor((e) => e.payload === 'hi back');
    const replayer = await connect(s.url, 'chat', { token: member.token, last_id: 0 });
    await new Promise((r) => replayer.socket.once('replay:done', r));
    expect(replayer.received.map((e) => e.payload)).toEqual(['hello', 'hi back']);
  });
});
