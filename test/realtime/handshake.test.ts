import { createHash } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { closeAll, createAgent, createHuman, dbKinds, open, openWith, refusal, startTestApp, type TestApp, times, unauthorizedOn, warnIfPostgresSkipped } from '../support';

const unauthorized = unauthorizedOn;
const FORBIDDEN = { message: 'forbidden', data: { code: 'FORBIDDEN', hint: '/monitor is for admins' } };
const SECRET = 'test-secret-that-is-long-enough-for-hs256-signing';

describe.each(dbKinds())('Socket.IO handshake on %s', (kind) => {
  let s: TestApp;
  let member: { user: { id: number }; token: string };
  let agent: { agent: { id: number }; token: string };

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/handshake');
    s = await startTestApp({ db: kind });
    member = await createHuman(s.api, s.adminToken, 'hs-member');
    agent = await createAgent(s.api, s.adminToken, 'hs-agent');
  });
  afterEach(() => closeAll());
  afterAll(() => s?.close());

  describe('accepted credentials', () => {
    it('accepts a JWT in auth.token on /chat for a MEMBER and an ADMIN, and on /monitor for an ADMIN', async () => {
      const clients = await Promise.all([
        openWith(s.url, 'chat', member.token),
        openWith(s.url, 'chat', s.adminToken),
        openWith(s.url, 'monitor', s.adminToken),
      ]);
      for (const c of clients) expect(c.socket.connected).toBe(true);
    });

    it('stores an API token as the plain SHA-256 hex of the token, as every earlier version did, and accepts it', async () => {
      const fresh = await createAgent(s.api, s.adminToken, 'hs-hash-agent');
      const row = await s.app.orm.em.fork().getConnection().execute<{ token_hash: string }[]>('select token_hash from machine_credentials where user_id = ?', [fresh.agent.id]);
      expect(row[0].token_hash).toBe(createHash('sha256').update(fresh.token, 'utf8').digest('hex'));
      expect((await openWith(s.url, 'agents', fresh.token)).socket.connected).toBe(true);
    });

    it('accepts an API token in auth.token on /agents', async () => {
      const a = await openWith(s.url, 'agents', agent.token);
      expect(a.socket.connected).toBe(true);
    });

    it('accepts an Authorization: Bearer header on every namespace', async () => {
      const chat = await open(s.url, 'chat', { extraHeaders: { Authorization: `Bearer ${member.token}` } });
      const agents = await open(s.url, 'agents', { extraHeaders: { Authorization: `Bearer ${agent.token}` } });
      const monitor = await open(s.url, 'monitor', { extraHeaders: { Authorization: `Bearer ${s.adminToken}` } });
      for (const c of [chat, agents, monitor]) expect(c.socket.connected).toBe(true);
    });

    it('routes to a socket that authenticated with the header like to any other', async () => {
      const viaHeader = await open(s.url, 'agents', { extraHeaders: { Authorization: `Bearer ${agent.token}` } });
      const sender = await openWith(s.url, 'chat', member.token);
      const ack = await sender.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'via header' });
      expect(ack.ok).toBe(true);
      await viaHeader.waitFor((e) => e.payload === 'via header');
    });

    it('lets one user hold many sockets, and each one receives what is addressed to the user', async () => {
      const tabs = await Promise.all(times(5, () => openWith(s.url, 'chat', member.token)));
      const bots = await Promise.all(times(3, () => openWith(s.url, 'agents', agent.token)));
      const ack = await bots[0].send({ type: 'CHAT', target_id: member.user.id, payload: 'to every tab' });
      expect(ack.ok).toBe(true);
      for (const t of tabs) await t.waitFor((e) => e.payload === 'to every tab');
      const back = await tabs[0].send({ type: 'CHAT', target_id: agent.agent.id, payload: 'to every bot' });
      expect(back.ok).toBe(true);
      for (const b of bots) await b.waitFor((e) => e.payload === 'to every bot');
    });
  });

  describe('refused handshakes', () => {
    it('refuses a handshake without any credential as unauthorized', async () => {
      for (const nsp of ['chat', 'agents', 'monitor'] as const) expect(await refusal(s.url, nsp)).toEqual(unauthorized(nsp));
    });

    it('ignores a token that is only in the query string', async () => {
      expect(await refusal(s.url, 'chat', { query: { token: member.token } })).toEqual(unauthorized('chat'));
      expect(await refusal(s.url, 'agents', { query: { token: agent.token } })).toEqual(unauthorized('agents'));
      expect(await refusal(s.url, 'monitor', { query: { token: s.adminToken } })).toEqual(unauthorized('monitor'));
      expect(await refusal(s.url, 'chat', { query: { auth: member.token, access_token: member.token } })).toEqual(unauthorized('chat'));
    });

    it('refuses a JWT on /agents and an API token on /chat and /monitor (wrong kind) as unauthorized', async () => {
      expect(await refusal(s.url, 'agents', { auth: { token: member.token } })).toEqual(unauthorized('agents'));
      expect(await refusal(s.url, 'agents', { auth: { token: s.adminToken } })).toEqual(unauthorized('agents'));
      expect(await refusal(s.url, 'chat', { auth: { token: agent.token } })).toEqual(unauthorized('chat'));
      expect(await refusal(s.url, 'monitor', { auth: { token: agent.token } })).toEqual(unauthorized('monitor'));
      expect(await refusal(s.url, 'chat', { extraHeaders: { Authorization: `Bearer ${agent.token}` } })).toEqual(unauthorized('chat'));
      expect(await refusal(s.url, 'agents', { extraHeaders: { Authorization: `Bearer ${member.token}` } })).toEqual(unauthorized('agents'));
    });

    it('hints at the credential each namespace takes, identically for an unknown token and a valid one of the wrong kind', async () => {
      const unknownAgentToken = agent.token.slice(0, -4) + (agent.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const onAgents = [await refusal(s.url, 'agents', { auth: { token: unknownAgentToken } }), await refusal(s.url, 'agents', { auth: { token: member.token } })];
      expect(onAgents).toEqual([unauthorized('agents'), unauthorized('agents')]);
      expect((onAgents[0].data as { hint: string }).hint).toMatch(/^\/agents takes an agent's API token/);
      const onChat = [await refusal(s.url, 'chat', { auth: { token: 'not-a-jwt' } }), await refusal(s.url, 'chat', { auth: { token: agent.token } })];
      expect(onChat).toEqual([unauthorized('chat'), unauthorized('chat')]);
      expect((onChat[0].data as { hint: string }).hint).toMatch(/^\/chat takes a login JWT/);
    });

    it('refuses a MEMBER on /monitor as forbidden, by auth.token and by header', async () => {
      expect(await refusal(s.url, 'monitor', { auth: { token: member.token } })).toEqual(FORBIDDEN);
      expect(await refusal(s.url, 'monitor', { extraHeaders: { Authorization: `Bearer ${member.token}` } })).toEqual(FORBIDDEN);
    });

    it('refuses malformed, forged and expired credentials as unauthorized', async () => {
      const forged = jwt.sign({ role: 'ADMIN' }, 'some-other-secret-that-is-long-enough-xx', { subject: '1', expiresIn: 600 });
      const expired = jwt.sign({ role: 'MEMBER' }, SECRET, { subject: String(member.user.id), expiresIn: -10 });
      const none = jwt.sign({ role: 'ADMIN' }, '', { subject: '1', algorithm: 'none' });
      for (const token of ['garbage', forged, expired, none, `${member.token}x`, agent.token.slice(0, -2)]) {
        expect(await refusal(s.url, 'chat', { auth: { token } })).toEqual(unauthorized('chat'));
        expect(await refusal(s.url, 'agents', { auth: { token } })).toEqual(unauthorized('agents'));
      }
      for (const token of [42, {}, [], true, '']) expect(await refusal(s.url, 'chat', { auth: { token } })).toEqual(unauthorized('chat'));
      for (const header of ['Basic abc', `Token ${member.token}`, 'Bearer', `Bearer ${member.token} extra`]) {
        expect(await refusal(s.url, 'chat', { extraHeaders: { Authorization: header } })).toEqual(unauthorized('chat'));
      }
    });

    it('refuses a valid-looking JWT for the Butler, which never logs in', async () => {
      const butler = (await s.api.get('/api/users/butler', s.adminToken)).body;
      const token = jwt.sign({ role: 'BUTLER' }, SECRET, { subject: String(butler.id), expiresIn: 600 });
      expect(await refusal(s.url, 'chat', { auth: { token } })).toEqual(unauthorized('chat'));
      expect(await refusal(s.url, 'monitor', { auth: { token } })).toEqual(unauthorized('monitor'));
    });

    it("refuses a deleted user's JWT at once", async () => {
      const gone = await createHuman(s.api, s.adminToken, 'hs-deleted');
      const del = await s.api.delete(`/api/users/${gone.user.id}`, s.adminToken);
      expect(del.status).toBe(204);
      expect(await refusal(s.url, 'chat', { auth: { token: gone.token } })).toEqual(unauthorized('chat'));
      expect(await refusal(s.url, 'chat', { extraHeaders: { Authorization: `Bearer ${gone.token}` } })).toEqual(unauthorized('chat'));
    });

    it("refuses a deleted admin on /monitor as unauthorized, not forbidden", async () => {
      const gone = await createHuman(s.api, s.adminToken, 'hs-deleted-admin', 'ADMIN');
      expect((await s.api.delete(`/api/users/${gone.user.id}`, s.adminToken)).status).toBe(204);
      expect(await refusal(s.url, 'monitor', { auth: { token: gone.token } })).toEqual(unauthorized('monitor'));
    });

    it('refuses a rotated agent token and accepts the new one', async () => {
      const bot = await createAgent(s.api, s.adminToken, 'hs-rotated');
      const rotated = await s.api.patch(`/api/users/agents/${bot.agent.id}/token`, undefined, s.adminToken);
      expect(rotated.status).toBe(200);
      expect(await refusal(s.url, 'agents', { auth: { token: bot.token } })).toEqual(unauthorized('agents'));
      const fresh = await openWith(s.url, 'agents', rotated.body.api_token);
      expect(fresh.socket.connected).toBe(true);
    });

    it("refuses a deleted agent's token", async () => {
      const bot = await createAgent(s.api, s.adminToken, 'hs-deleted-bot');
      expect((await s.api.delete(`/api/users/agents/${bot.agent.id}`, s.adminToken)).status).toBe(204);
      expect(await refusal(s.url, 'agents', { auth: { token: bot.token } })).toEqual(unauthorized('agents'));
    });

    it('refuses an invalid auth.last_id with a connect_error', async () => {
      for (const last_id of ['abc', -1, '-1', 1.5, '1e3', {}, true, Number.MAX_SAFE_INTEGER + 2]) {
        const r = await refusal(s.url, 'chat', { auth: { token: member.token, last_id } });
        expect(r.data).toEqual({ code: 'VALIDATION_ERROR' });
        expect(typeof r.message).toBe('string');
      }
    });

    it('checks the credential before last_id: a bad token with a bad last_id is unauthorized', async () => {
      expect(await refusal(s.url, 'chat', { auth: { token: 'nope', last_id: 'abc' } })).toEqual(unauthorized('chat'));
    });
  });
});
