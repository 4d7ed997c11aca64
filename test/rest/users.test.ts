import { createAgent, createHuman, dbKinds, expectError, insertUsers, ISO_MS, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

type U = { id: number; username: string; role: string };
const ids = (list: U[]) => list.map((u) => u.id);

describe.each(dbKinds())('GET /api/users on %s', (kind) => {
  let s: TestApp;
  let bulk: number[];
  beforeAll(async () => {
    warnIfPostgresSkipped('users');
    s = await startTestApp({ db: kind });
    await createAgent(s.api, s.adminToken, 'list-agent');
    bulk = await insertUsers(
      s.app,
      Array.from({ length: 230 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`),
    );
  });
  afterAll(() => s?.close());

  it('lists every role in ascending id order, 50 by default', async () => {
    const res = await s.api.get('/api/users', s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(50);
    const list: U[] = res.body;
    expect(ids(list)).toEqual([...ids(list)].sort((a, b) => a - b));
    expect(new Set(list.map((u) => u.role))).toEqual(new Set(['BUTLER', 'ADMIN', 'AGENT', 'MEMBER']));
    for (const u of list) expect(u).not.toHaveProperty('password_hash');
  });

  it('shows humans as {id, username, role, created_at} and agents with presence fields', async () => {
    const list: (U & Record<string, unknown>)[] = (await s.api.get('/api/users?limit=5', s.adminToken)).body;
    const admin = list.find((u) => u.role === 'ADMIN')!;
    expect(Object.keys(admin).sort()).toEqual(['created_at', 'id', 'role', 'username']);
    expect(admin.created_at).toMatch(ISO_MS);
    const agent = list.find((u) => u.role === 'AGENT')!;
    expect(agent).toMatchObject({ username: 'list-agent', online: false, status: null, last_seen_at: null, last_report: null });
  });

  it('clamps limit to 200', async () => {
    const res = await s.api.get('/api/users?limit=500', s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(200);
  });

  it('pages with after_id and limit without gaps or repeats', async () => {
    const all: number[] = [];
    let after = 0;
    for (;;) {
      const page = (await s.api.get(`/api/users?limit=70${after ? `&after_id=${after}` : ''}`, s.adminToken)).body as U[];
      if (page.length === 0) break;
      all.push(...ids(page));
      after = page[page.length - 1].id;
    }
    expect(all).toHaveLength(new Set(all).size);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(all).toEqual(expect.arrayContaining(bulk));
    expect(all.length).toBe(bulk.length + 3); // + the Butler, the admin and the agent
  });

  it('answers [] after the last id', async () => {
    const res = await s.api.get(`/api/users?after_id=${bulk[bulk.length - 1]}`, s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it.each(['limit=0', 'limit=-1', 'limit=abc', 'limit=1.5', 'after_id=abc', 'after_id=-4'])('refuses ?%s with 400 VALIDATION_ERROR', async (q) => {
    expectError(await s.api.get(`/api/users?${q}`, s.adminToken), 400, 'VALIDATION_ERROR');
  });

  it('refuses a MEMBER with 403 FORBIDDEN', async () => {
    const { token } = await createHuman(s.api, s.adminToken, 'nosy-member');
    expectError(await s.api.get('/api/users', token), 403, 'FORBIDDEN');
  });
});

describe.each(dbKinds())('GET /api/users/:id on %s', (kind) => {
  let s: TestApp;
  let alice: { user: U; token: string };
  let bob: { user: U; token: string };
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    alice = await createHuman(s.api, s.adminToken, 'alice');
    bob = await createHuman(s.api, s.adminToken, 'bob');
  });
  afterAll(() => s?.close());

  it('lets a member read themself', async () => {
    const res = await s.api.get(`/api/users/${alice.user.id}`, alice.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(alice.user);
  });

  it('refuses a member reading someone else (existing or not) with 403', async () => {
    expectError(await s.api.get(`/api/users/${bob.user.id}`, alice.token), 403, 'FORBIDDEN');
    expectError(await s.api.get('/api/users/999999', alice.token), 403, 'FORBIDDEN');
  });

  it('lets an admin read anyone, agents with their token hint but never the token', async () => {
    expect((await s.api.get(`/api/users/${bob.user.id}`, s.adminToken)).body).toEqual(bob.user);
    const { agent, token } = await createAgent(s.api, s.adminToken, 'readable-agent');
    const res = await s.api.get(`/api/users/${agent.id}`, s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(agent);
    expect(res.text).not.toContain(token);
  });

  it.each(['999999', 'abc', '0', '-1', '1.5'])('answers 404 NOT_FOUND to an admin for id %s', async (id) => {
    expectError(await s.api.get(`/api/users/${id}`, s.adminToken), 404, 'NOT_FOUND');
  });
});

describe.each(dbKinds())('POST /api/users on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it.each(['MEMBER', 'ADMIN'])('creates a %s with 201 {user}, who can log in', async (role) => {
    const username = `new-${role.toLowerCase()}`;
    const res = await s.api.post('/api/users', { username, password: 'a-good-password', role, extra: 'ignored' }, s.adminToken);
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(['user']);
    expect(Object.keys(res.body.user).sort()).toEqual(['created_at', 'id', 'role', 'username']);
    expect(res.body.user).toMatchObject({ username, role });
    const login = await s.api.post('/api/auth/login', { username, password: 'a-good-password' });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual(res.body.user);
    expect((await s.api.get(`/api/users/${res.body.user.id}`, s.adminToken)).body).toEqual(res.body.user);
  });

  it('gives a new ADMIN the admin routes', async () => {
    await s.api.post('/api/users', { username: 'second-admin', password: 'a-good-password', role: 'ADMIN' }, s.adminToken);
    const token = (await s.api.post('/api/auth/login', { username: 'second-admin', password: 'a-good-password' })).body.token;
    expect((await s.api.get('/api/users', token)).status).toBe(200);
  });

  it.each([['admin'], ['Admin'], ['BUTLER'], ['New-Member']])('refuses the taken name %s with 409 CONFLICT', async (username) => {
    await s.api.post('/api/users', { username: 'new-member', password: 'a-good-password', role: 'MEMBER' }, s.adminToken);
    expectError(await s.api.post('/api/users', { username, password: 'a-good-password', role: 'MEMBER' }, s.adminToken), 409, 'CONFLICT');
  });

  it('refuses a name an agent already holds, in any case', async () => {
    await createAgent(s.api, s.adminToken, 'Agent-Smith');
    expectError(await s.api.post('/api/users', { username: 'agent-smith', password: 'a-good-password', role: 'MEMBER' }, s.adminToken), 409, 'CONFLICT');
  });

  it.each([
    ['role AGENT', { username: 'x1', password: 'a-good-password', role: 'AGENT' }],
    ['role BUTLER', { username: 'x2', password: 'a-good-password', role: 'BUTLER' }],
    ['a lower-case role', { username: 'x3', password: 'a-good-password', role: 'member' }],
    ['no role', { username: 'x4', password: 'a-good-password' }],
    ['no password', { username: 'x5', role: 'MEMBER' }],
    ['a short password', { username: 'x6', password: 'short', role: 'MEMBER' }],
    ['no username', { password: 'a-good-password', role: 'MEMBER' }],
    ['a bad username', { username: 'x 7', password: 'a-good-password', role: 'MEMBER' }],
    ['a numeric password', { username: 'x8', password: 123456789, role: 'MEMBER' }],
  ])('refuses %s with 400 VALIDATION_ERROR and creates nothing', async (_name, body) => {
    expectError(await s.api.post('/api/users', body, s.adminToken), 400, 'VALIDATION_ERROR');
    const list: U[] = (await s.api.get('/api/users?limit=200', s.adminToken)).body;
    expect(list.map((u) => u.username)).not.toContain((body as { username?: string }).username);
  });

  it('refuses a MEMBER with 403 and creates nothing', async () => {
    const { token } = await createHuman(s.api, s.adminToken, 'wannabe');
    expectError(await s.api.post('/api/users', { username: 'minion', password: 'a-good-password', role: 'ADMIN' }, token), 403, 'FORBIDDEN');
    expectError(await s.api.post('/api/auth/login', { username: 'minion', password: 'a-good-password' }), 401, 'INVALID_CREDENTIALS');
  });
});

describe.each(dbKinds())('DELETE /api/users/:id on %s', (kind) => {
  let s: TestApp;
  let butlerId: number;
  let adminId: number;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    butlerId = (await s.api.get('/api/users/butler', s.adminToken)).body.id;
    adminId = (await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.user.id;
  });
  afterAll(() => s?.close());

  it('deletes a member with 204: gone from the list, cannot log in, name free again', async () => {
    const { user } = await createHuman(s.api, s.adminToken, 'leaving');
    const res = await s.api.delete(`/api/users/${user.id}`, s.adminToken);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectError(await s.api.get(`/api/users/${user.id}`, s.adminToken), 404, 'NOT_FOUND');
    expectError(await s.api.post('/api/auth/login', { username: 'leaving', password: 'password123' }), 401, 'INVALID_CREDENTIALS');
    expect((await s.api.post('/api/users', { username: 'LEAVING', password: 'password123', role: 'MEMBER' }, s.adminToken)).status).toBe(201);
  });

  it('answers 404 for an id that is already gone or never was', async () => {
    const { user } = await createHuman(s.api, s.adminToken, 'twice');
    expect((await s.api.delete(`/api/users/${user.id}`, s.adminToken)).status).toBe(204);
    expectError(await s.api.delete(`/api/users/${user.id}`, s.adminToken), 404, 'NOT_FOUND');
    expectError(await s.api.delete('/api/users/999999', s.adminToken), 404, 'NOT_FOUND');
    expectError(await s.api.delete('/api/users/abc', s.adminToken), 404, 'NOT_FOUND');
  });

  it('refuses to delete the Butler with 409 CONFLICT', async () => {
    expectError(await s.api.delete(`/api/users/${butlerId}`, s.adminToken), 409, 'CONFLICT');
    expect((await s.api.get('/api/users/butler', s.adminToken)).body.id).toBe(butlerId);
  });

  it('refuses to delete the last admin (even themself) with 409 CONFLICT', async () => {
    expectError(await s.api.delete(`/api/users/${adminId}`, s.adminToken), 409, 'CONFLICT');
    expect((await s.api.get('/api/users', s.adminToken)).status).toBe(200);
  });

  it('lets an admin delete another admin, and then refuses the last one', async () => {
    const second = await createHuman(s.api, s.adminToken, 'deputy', 'ADMIN');
    expect((await s.api.delete(`/api/users/${adminId}`, second.token)).status).toBe(204);
    expectError(await s.api.get('/api/users', s.adminToken), 401, 'UNAUTHORIZED');
    expectError(await s.api.delete(`/api/users/${second.user.id}`, second.token), 409, 'CONFLICT');
    // Restore a usable admin token for the rest of the block.
    s.adminToken = second.token;
  });

  it('refuses a MEMBER with 403 and deletes nothing', async () => {
    const victim = await createHuman(s.api, s.adminToken, 'victim');
    const { token } = await createHuman(s.api, s.adminToken, 'attacker');
    expectError(await s.api.delete(`/api/users/${victim.user.id}`, token), 403, 'FORBIDDEN');
    expect((await s.api.get(`/api/users/${victim.user.id}`, s.adminToken)).status).toBe(200);
  });

  it('deletes an agent through this route too, and its token stops working', async () => {
    const { agent, token } = await createAgent(s.api, s.adminToken, 'agent-by-user-route');
    expect((await s.api.delete(`/api/users/${agent.id}`, s.adminToken)).status).toBe(204);
    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'still here?' }, token), 401, 'UNAUTHORIZED');
  });
});
