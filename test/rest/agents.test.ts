import { createAgent, createHuman, dbKinds, expectError, ISO_MS, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

const AGENT_KEYS = ['created_at', 'description', 'id', 'last_report', 'last_seen_at', 'online', 'role', 'status', 'token_hint', 'token_updated_at', 'username'];
type AgentView = Record<string, unknown> & { id: number; username: string; role: string };

describe.each(dbKinds())('POST /api/users/agents on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    warnIfPostgresSkipped('agents');
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it('answers 201 {agent, api_token} with a fresh agent and a random token shown once', async () => {
    const res = await s.api.post('/api/users/agents', { username: 'weather', description: 'Reports the weather' }, s.adminToken);
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['agent', 'api_token']);
    const { agent, api_token: token } = res.body;
    expect(Object.keys(agent).sort()).toEqual(AGENT_KEYS);
    expect(agent).toMatchObject({
      username: 'weather',
      role: 'AGENT',
      description: 'Reports the weather',
      status: null,
      online: false,
      last_seen_at: null,
      last_report: null,
    });
    expect(agent.created_at).toMatch(ISO_MS);
    expect(agent.token_updated_at).toBe(agent.created_at);
    // At least 32 random bytes: `ec_` plus 43 base64url characters.
    expect(token).toMatch(/^ec_[A-Za-z0-9_-]{43,}$/);
    expect(agent.token_hint).toBe(`${token.slice(0, 5)}…${token.slice(-2)}`);
    expect(token).not.toContain(agent.token_hint);
  });

  it('issues a different token for every agent', async () => {
    const a = await createAgent(s.api, s.adminToken, 'twin-a');
    const b = await createAgent(s.api, s.adminToken, 'twin-b');
    expect(a.token).not.toBe(b.token);
  });

  it('accepts a missing or null description as null', async () => {
    const a = await s.api.post('/api/users/agents', { username: 'no-desc' }, s.adminToken);
    const b = await s.api.post('/api/users/agents', { username: 'null-desc', description: null }, s.adminToken);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect([a.body.agent.description, b.body.agent.description]).toEqual([null, null]);
  });

  it('reads back the same agent without its token', async () => {
    const { agent, token } = await createAgent(s.api, s.adminToken, 'read-back', 'desc');
    const res = await s.api.get(`/api/users/${agent.id}`, s.adminToken);
    expect(res.body).toEqual(agent);
    expect(res.text).not.toContain(token);
  });

  it.each([['WEATHER'], ['admin'], ['Butler']])('refuses the taken name %s with 409 CONFLICT', async (username) => {
    await s.api.post('/api/users/agents', { username: 'weather' }, s.adminToken);
    expectError(await s.api.post('/api/users/agents', { username }, s.adminToken), 409, 'CONFLICT');
  });

  it.each([
    ['no username', {}],
    ['a bad username', { username: 'has space' }],
    ['a numeric username', { username: 7 }],
    ['a numeric description', { username: 'agent-x', description: 5 }],
    ['a description over 1000 characters', { username: 'agent-y', description: 'd'.repeat(1001) }],
  ])('refuses %s with 400 VALIDATION_ERROR', async (_name, body) => {
    expectError(await s.api.post('/api/users/agents', body, s.adminToken), 400, 'VALIDATION_ERROR');
  });

  it('refuses a MEMBER with 403', async () => {
    const { token } = await createHuman(s.api, s.adminToken, 'member-makes-agent');
    expectError(await s.api.post('/api/users/agents', { username: 'rogue' }, token), 403, 'FORBIDDEN');
  });
});

describe.each(dbKinds())('GET /api/users/agents, /agents/status and /butler on %s', (kind) => {
  let s: TestApp;
  let memberToken: string;
  let agents: AgentView[];
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    memberToken = (await createHuman(s.api, s.adminToken, 'viewer')).token;
    agents = [];
    for (let i = 0; i < 5; i++) agents.push((await createAgent(s.api, s.adminToken, `agent-${i}`, `number ${i}`)).agent);
    await createHuman(s.api, s.adminToken, 'late-human');
  });
  afterAll(() => s?.close());

  it('GET /api/users/agents lists the Butler and the agents, ascending by id, to any human', async () => {
    for (const token of [memberToken, s.adminToken]) {
      const res = await s.api.get('/api/users/agents', token);
      expect(res.status).toBe(200);
      const list: AgentView[] = res.body;
      expect(list.map((u) => u.role)).toEqual(['BUTLER', 'AGENT', 'AGENT', 'AGENT', 'AGENT', 'AGENT']);
      expect(list.slice(1)).toEqual(agents);
      for (const u of list) expect(typeof u.online).toBe('boolean');
    }
  });

  it('shows the Butler with mode and no token', async () => {
    const butler = (await s.api.get('/api/users/agents', memberToken)).body[0];
    expect(Object.keys(butler).sort()).toEqual([...AGENT_KEYS, 'mode'].sort());
    expect(butler).toMatchObject({ username: 'butler', role: 'BUTLER', mode: 'rules', token_hint: null, token_updated_at: null });
  });

  it('GET /api/users/agents/status lists agents only, same objects', async () => {
    const res = await s.api.get('/api/users/agents/status', memberToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(agents);
  });

  it.each(['/api/users/agents', '/api/users/agents/status'])('%s pages with after_id and limit', async (path) => {
    const page1 = (await s.api.get(`${path}?limit=2`, memberToken)).body as AgentView[];
    const page2 = (await s.api.get(`${path}?limit=2&after_id=${page1[1].id}`, memberToken)).body as AgentView[];
    const all = (await s.api.get(path, memberToken)).body as AgentView[];
    expect(page1).toHaveLength(2);
    expect([...page1, ...page2]).toEqual(all.slice(0, 4));
    expect((await s.api.get(`${path}?after_id=${all[all.length - 1].id}`, memberToken)).body).toEqual([]);
  });

  it.each(['/api/users/agents', '/api/users/agents/status'])('%s refuses bad query values with 400', async (path) => {
    for (const q of ['limit=0', 'limit=abc', 'after_id=x']) {
      expectError(await s.api.get(`${path}?${q}`, memberToken), 400, 'VALIDATION_ERROR');
    }
  });

  it('GET /api/users/butler answers the Butler with mode to any human', async () => {
    const fromList = (await s.api.get('/api/users/agents', s.adminToken)).body[0];
    for (const token of [memberToken, s.adminToken]) {
      const res = await s.api.get('/api/users/butler', token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(fromList);
      expect(res.body.mode).toBe('rules');
      expect(res.body.created_at).toMatch(ISO_MS);
    }
  });
});

describe.each(dbKinds())('PATCH /api/users/agents/:id/token on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it('rotates: 200 {agent, api_token}, the old token stops at once, the new one works', async () => {
    const { agent, token: old } = await createAgent(s.api, s.adminToken, 'rotor');
    expect((await s.api.post('/api/messages', { level: 'INFO', content: 'before' }, old)).status).toBe(201);
    const res = await s.api.patch(`/api/users/agents/${agent.id}/token`, undefined, s.adminToken);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['agent', 'api_token']);
    const fresh: string = res.body.api_token;
    expect(fresh).toMatch(/^ec_[A-Za-z0-9_-]{43,}$/);
    expect(fresh).not.toBe(old);
    expect(res.body.agent.id).toBe(agent.id);
    expect(res.body.agent.token_hint).toBe(`${fresh.slice(0, 5)}…${fresh.slice(-2)}`);
    expect(Date.parse(res.body.agent.token_updated_at)).toBeGreaterThanOrEqual(Date.parse(agent.token_updated_at));
    expect(res.body.agent.created_at).toBe(agent.created_at);

    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'old token' }, old), 401, 'UNAUTHORIZED');
    expect((await s.api.post('/api/users/agents/test-connection', { api_token: old }, s.adminToken)).body).toEqual({ valid: false });
    expect((await s.api.post('/api/messages', { level: 'INFO', content: 'new token' }, fresh)).status).toBe(201);
    const listed = (await s.api.get('/api/users/agents/status', s.adminToken)).body.find((a: AgentView) => a.id === agent.id);
    expect(listed).toEqual(res.body.agent);
  });

  it('answers 404 for the Butler, a human, an unknown id and a non-numeric id', async () => {
    const butler = (await s.api.get('/api/users/butler', s.adminToken)).body;
    const { user } = await createHuman(s.api, s.adminToken, 'not-an-agent');
    for (const id of [butler.id, user.id, 999999, 'abc']) {
      expectError(await s.api.patch(`/api/users/agents/${id}/token`, undefined, s.adminToken), 404, 'NOT_FOUND');
    }
  });

  it('refuses a MEMBER with 403 and the token keeps working', async () => {
    const { agent, token } = await createAgent(s.api, s.adminToken, 'kept');
    const member = await createHuman(s.api, s.adminToken, 'rotator');
    expectError(await s.api.patch(`/api/users/agents/${agent.id}/token`, undefined, member.token), 403, 'FORBIDDEN');
    expect((await s.api.post('/api/users/agents/test-connection', { api_token: token }, s.adminToken)).body.valid).toBe(true);
  });
});

describe.each(dbKinds())('POST /api/users/agents/test-connection on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it('answers {valid: true, agent_id, username} for a live token', async () => {
    const { agent, token } = await createAgent(s.api, s.adminToken, 'pinger');
    const res = await s.api.post('/api/users/agents/test-connection', { api_token: token }, s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: true, agent_id: agent.id, username: 'pinger' });
  });

  it.each([
    ['an unknown token', 'ec_' + 'A'.repeat(43)],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln'],
    ['garbage', 'nope'],
  ])('answers 200 {valid: false} for %s', async (_name, token) => {
    const res = await s.api.post('/api/users/agents/test-connection', { api_token: token }, s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: false });
  });

  it('answers {valid: false} for an admin JWT', async () => {
    const res = await s.api.post('/api/users/agents/test-connection', { api_token: s.adminToken }, s.adminToken);
    expect(res.body).toEqual({ valid: false });
  });

  it.each([
    ['no api_token', {}],
    ['an empty api_token', { api_token: '' }],
    ['a numeric api_token', { api_token: 12 }],
  ])('refuses %s with 400', async (_name, body) => {
    expectError(await s.api.post('/api/users/agents/test-connection', body, s.adminToken), 400, 'VALIDATION_ERROR');
  });

  it('refuses a MEMBER with 403', async () => {
    const { token } = await createAgent(s.api, s.adminToken, 'probed');
    const member = await createHuman(s.api, s.adminToken, 'prober');
    expectError(await s.api.post('/api/users/agents/test-connection', { api_token: token }, member.token), 403, 'FORBIDDEN');
  });
});

describe.each(dbKinds())('DELETE /api/users/agents/:id on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it('deletes with 204: the token stops at once and the agent leaves every list', async () => {
    const { agent, token } = await createAgent(s.api, s.adminToken, 'goner');
    expect((await s.api.post('/api/messages', { level: 'INFO', content: 'alive' }, token)).status).toBe(201);
    const res = await s.api.delete(`/api/users/agents/${agent.id}`, s.adminToken);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'dead' }, token), 401, 'UNAUTHORIZED');
    expect((await s.api.post('/api/users/agents/test-connection', { api_token: token }, s.adminToken)).body).toEqual({ valid: false });
    expect((await s.api.get('/api/users/agents', s.adminToken)).body.map((a: AgentView) => a.id)).not.toContain(agent.id);
    expectError(await s.api.get(`/api/users/${agent.id}`, s.adminToken), 404, 'NOT_FOUND');
    expectError(await s.api.delete(`/api/users/agents/${agent.id}`, s.adminToken), 404, 'NOT_FOUND');
  });

  it("refuses the Butler's id with 409 CONFLICT", async () => {
    const butler = (await s.api.get('/api/users/butler', s.adminToken)).body;
    expectError(await s.api.delete(`/api/users/agents/${butler.id}`, s.adminToken), 409, 'CONFLICT');
    expect((await s.api.get('/api/users/butler', s.adminToken)).status).toBe(200);
  });

  it('answers 404 for a human id and leaves the human alone', async () => {
    const { user } = await createHuman(s.api, s.adminToken, 'human-not-agent');
    expectError(await s.api.delete(`/api/users/agents/${user.id}`, s.adminToken), 404, 'NOT_FOUND');
    expect((await s.api.get(`/api/users/${user.id}`, s.adminToken)).status).toBe(200);
    expectError(await s.api.delete('/api/users/agents/999999', s.adminToken), 404, 'NOT_FOUND');
    expectError(await s.api.delete('/api/users/agents/abc', s.adminToken), 404, 'NOT_FOUND');
  });

  it('refuses a MEMBER with 403 and keeps the agent', async () => {
    const { agent, token } = await createAgent(s.api, s.adminToken, 'protected');
    const member = await createHuman(s.api, s.adminToken, 'deleter');
    expectError(await s.api.delete(`/api/users/agents/${agent.id}`, member.token), 403, 'FORBIDDEN');
    expect((await s.api.post('/api/users/agents/test-connection', { api_token: token }, s.adminToken)).body.valid).toBe(true);
  });
});
