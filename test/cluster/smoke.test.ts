import { closeAll, connect, createAgent, createDb, createHuman, expectNothing, newRedisPrefix, postgresUrl, redisUrl, startTestApp, type TestApp, type TestDb } from '../support';

const run = redisUrl && postgresUrl ? describe : describe.skip;
if (!run) console.warn('[cluster smoke] SKIPPED: set DATABASE_URL and REDIS_URL');

run('two replicas in one process over Redis', () => {
  let db: TestDb;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    db = await createDb('postgres');
    const redis = { prefix: newRedisPrefix() };
    a = await startTestApp({ db, redis });
    b = await startTestApp({ db, redis });
  });
  afterAll(async () => {
    closeAll();
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('routes a CHAT from a member on A to an agent on B and echoes to the member on B', async () => {
    const member = await createHuman(a.api, a.adminToken, 'alice');
    const agent = await createAgent(a.api, a.adminToken, 'bot');
    const mA = await connect(a.url, 'chat', { token: member.token });
    const mB = await connect(b.url, 'chat', { token: member.token });
    const monitorB = await connect(b.url, 'monitor', { token: b.adminToken });
    const agB = await connect(b.url, 'agents', { token: agent.token });
    const presence = await monitorB.waitFor((e) => e.type === 'PRESENCE');
    expect(presence.payload).toMatchObject({ id: agent.agent.id, online: true });
    const list = await a.api.get('/api/users/agents/status', member.token);
    expect(list.body.find((x: any) => x.id === agent.agent.id).online).toBe(true);
    const ack = await mA.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'hello across' });
    expect(ack.ok).toBe(true);
    const got = await agB.waitFor((e) => e.type === 'CHAT');
    expect(got.id).toBe((ack as any).id);
    await mB.waitFor((e) => e.payload === 'hello across');
    await expectNothing(mA, (e) => e.type === 'CHAT');
    const del = await a.api.delete(`/api/users/agents/${agent.agent.id}`, a.adminToken);
    expect(del.status).toBe(204);
    await new Promise<void>((resolve) => (agB.socket.disconnected ? resolve() : agB.socket.once('disconnect', () => resolve())));
  });
});
