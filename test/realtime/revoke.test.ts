import type { Envelope } from '../../src/shared/protocol';
import { closeAll, createAgent, createHuman, dbKinds, okAck, open, openWith, refusal, sleep, startTestApp, type TestApp, type TestClient, warnIfPostgresSkipped, unauthorizedOn, withPayload } from '../support';

const unauthorized = unauthorizedOn;

describe.each(dbKinds())('revoked credentials disconnect live sockets on %s', (kind) => {
  let s: TestApp;
  let bystanders: TestClient[];
  let keeper: { user: { id: number }; token: string };
  let keeperBot: { agent: { id: number }; token: string };

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/revoke');
    s = await startTestApp({ db: kind });
    keeper = await createHuman(s.api, s.adminToken, 'keeper');
    keeperBot = await createAgent(s.api, s.adminToken, 'keeper-bot');
  });
  beforeEach(async () => {
    bystanders = await Promise.all([
      openWith(s.url, 'chat', keeper.token),
      openWith(s.url, 'chat', s.adminToken),
      openWith(s.url, 'monitor', s.adminToken),
      openWith(s.url, 'agents', keeperBot.token),
    ]);
  });
  afterEach(() => closeAll());
  afterAll(() => s?.close());

  /** The bystanders are still connected and still get traffic. */
  async function bystandersUnaffected(tag: string): Promise<void> {
    await sleep(100);
    for (const c of bystanders) expect(c.socket.connected).toBe(true);
    const [k, adm, , bot] = bystanders;
    okAck(await bot.send({ type: 'CHAT', target_id: keeper.user.id, payload: `after ${tag}` }));
    await k.waitFor(withPayload(`after ${tag}`));
    okAck(await adm.send({ type: 'CHAT', target_id: keeperBot.agent.id, payload: `admin after ${tag}` }));
    await bot.waitFor(withPayload(`admin after ${tag}`));
  }

  it('DELETE /api/users/:id drops every socket of that member, only theirs, and refuses the reconnect', async () => {
    const victim = await createHuman(s.api, s.adminToken, 'victim');
    const tabs = await Promise.all([openWith(s.url, 'chat', victim.token), openWith(s.url, 'chat', victim.token)]);
    expect((await s.api.delete(`/api/users/${victim.user.id}`, s.adminToken)).status).toBe(204);
    for (const t of tabs) expect(await t.disconnected()).toBe('io server disconnect');
    await bystandersUnaffected('member delete');
    expect(await refusal(s.url, 'chat', { auth: { token: victim.token } })).toEqual(unauthorized('chat'));
  });

  it('DELETE /api/users/:id of an admin drops their /chat and /monitor sockets', async () => {
    const other = await createHuman(s.api, s.adminToken, 'second-admin', 'ADMIN');
    const chat = await openWith(s.url, 'chat', other.token);
    const monitor = await openWith(s.url, 'monitor', other.token);
    expect((await s.api.delete(`/api/users/${other.user.id}`, s.adminToken)).status).toBe(204);
    expect(await chat.disconnected()).toBe('io server disconnect');
    expect(await monitor.disconnected()).toBe('io server disconnect');
    await bystandersUnaffected('admin delete');
    expect(await refusal(s.url, 'monitor', { auth: { token: other.token } })).toEqual(unauthorized('monitor'));
  });

  it('DELETE /api/users/agents/:id drops every socket of that agent and refuses its token', async () => {
    const bot = await createAgent(s.api, s.adminToken, 'doomed-bot');
    const socks = await Promise.all([openWith(s.url, 'agents', bot.token), openWith(s.url, 'agents', bot.token)]);
    expect((await s.api.delete(`/api/users/agents/${bot.agent.id}`, s.adminToken)).status).toBe(204);
    for (const c of socks) expect(await c.disconnected()).toBe('io server disconnect');
    await bystandersUnaffected('agent delete');
    expect(await refusal(s.url, 'agents', { auth: { token: bot.token } })).toEqual(unauthorized('agents'));
  });

  it('DELETE /api/users/:id works for agents too', async () => {
    const bot = await createAgent(s.api, s.adminToken, 'doomed-bot-2');
    const sock = await openWith(s.url, 'agents', bot.token);
    expect((await s.api.delete(`/api/users/${bot.agent.id}`, s.adminToken)).status).toBe(204);
    expect(await sock.disconnected()).toBe('io server disconnect');
    expect(await refusal(s.url, 'agents', { auth: { token: bot.token } })).toEqual(unauthorized('agents'));
  });

  it('PATCH /api/users/agents/:id/token drops the sockets of the old token; the new token connects', async () => {
    const bot = await createAgent(s.api, s.adminToken, 'rotating-bot');
    const socks = await Promise.all([openWith(s.url, 'agents', bot.token), openWith(s.url, 'agents', bot.token)]);
    const [k] = bystanders;
    await k.waitFor((e) => e.type === 'PRESENCE' && (e.payload as { id: number; online: boolean }).id === bot.agent.id && (e.payload as { online: boolean }).online);
    const rotated = await s.api.patch(`/api/users/agents/${bot.agent.id}/token`, undefined, s.adminToken);
    expect(rotated.status).toBe(200);
    for (const c of socks) expect(await c.disconnected()).toBe('io server disconnect');
    // The agent still exists: humans see it go offline.
    const offline = await k.waitFor((e: Envelope) => e.type === 'PRESENCE' && (e.payload as { id: number }).id === bot.agent.id && !(e.payload as { online: boolean }).online);
    expect(offline.payload).toMatchObject({ online: false, token_hint: rotated.body.agent.token_hint });
    await bystandersUnaffected('rotation');
    expect(await refusal(s.url, 'agents', { auth: { token: bot.token } })).toEqual(unauthorized('agents'));
    const fresh = await openWith(s.url, 'agents', rotated.body.api_token);
    okAck(await fresh.send({ type: 'CHAT', target_id: keeper.user.id, payload: 'new token works' }));
    await k.waitFor(withPayload('new token works'));
  });

  it('a client with automatic reconnection stays out after its user is deleted', async () => {
    const victim = await createHuman(s.api, s.adminToken, 'reconnector');
    const c = await open(s.url, 'chat', { auth: { token: victim.token }, reconnection: true, reconnectionDelay: 20 });
    expect((await s.api.delete(`/api/users/${victim.user.id}`, s.adminToken)).status).toBe(204);
    expect(await c.disconnected()).toBe('io server disconnect');
    // Even when the application asks it to connect again, the handshake is refused.
    const refused = new Promise<Error & { data?: unknown }>((resolve) => c.socket.once('connect_error', resolve));
    c.socket.connect();
    const err = await refused;
    expect({ message: err.message, data: err.data }).toEqual(unauthorized('chat'));
    expect(c.socket.connected).toBe(false);
  });

  it('a refused revocation disconnects nobody: the Butler (409) and a member id on the agents route (404)', async () => {
    const member = await createHuman(s.api, s.adminToken, 'not-an-agent');
    const sock = await openWith(s.url, 'chat', member.token);
    const butler = (await s.api.get('/api/users/butler', s.adminToken)).body;
    expect((await s.api.delete(`/api/users/agents/${butler.id}`, s.adminToken)).status).toBe(409);
    expect((await s.api.delete(`/api/users/agents/${member.user.id}`, s.adminToken)).status).toBe(404);
    expect((await s.api.patch(`/api/users/agents/${member.user.id}/token`, undefined, s.adminToken)).status).toBe(404);
    await bystandersUnaffected('refused revocations');
    expect(sock.socket.connected).toBe(true);
  });
});
