import { request as httpRequest } from 'node:http';
import jwt from 'jsonwebtoken';
import { createAgent, createHuman, dbKinds, expectError, ISO_MS, ManualClock, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

const HUMAN_KEYS = ['created_at', 'id', 'role', 'username'];

describe.each(dbKinds())('POST /api/auth/login on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    warnIfPostgresSkipped('auth');
    s = await startTestApp({ db: kind });
    await createHuman(s.api, s.adminToken, 'Carol', 'MEMBER', 'carol-password');
    await createAgent(s.api, s.adminToken, 'robot');
  });
  afterAll(() => s?.close());

  it('answers 200 {token, user} for the right password, and the token works', async () => {
    const res = await s.api.post('/api/auth/login', { username: 'Carol', password: 'carol-password' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['token', 'user']);
    expect(Object.keys(res.body.user).sort()).toEqual(HUMAN_KEYS);
    expect(res.body.user).toMatchObject({ username: 'Carol', role: 'MEMBER' });
    expect(res.body.user.created_at).toMatch(ISO_MS);
    const me = await s.api.get(`/api/users/${res.body.user.id}`, res.body.token);
    expect(me.status).toBe(200);
    expect(me.body).toEqual(res.body.user);
  });

  it('compares the username case-insensitively and returns the name as it was created', async () => {
    const res = await s.api.post('/api/auth/login', { username: 'cAROL', password: 'carol-password' });
    expect(res.status).toBe(200);
    expect(res.body.user.username).toBe('Carol');
  });

  it('refuses a wrong password with 401 and the same message as an unknown user', async () => {
    const wrong = await s.api.post('/api/auth/login', { username: 'Carol', password: 'not-her-password' });
    const unknown = await s.api.post('/api/auth/login', { username: 'nobody-at-all', password: 'whatever1' });
    expectError(wrong, 401, 'INVALID_CREDENTIALS');
    expectError(unknown, 401, 'INVALID_CREDENTIALS');
    expect(wrong.body.error).toBe(unknown.body.error);
  });

  it('is case-sensitive about the password', async () => {
    expectError(await s.api.post('/api/auth/login', { username: 'Carol', password: 'CAROL-PASSWORD' }), 401, 'INVALID_CREDENTIALS');
  });

  it('never logs in an agent or the Butler by name', async () => {
    expectError(await s.api.post('/api/auth/login', { username: 'robot', password: 'anything-at-all' }), 401, 'INVALID_CREDENTIALS');
    expectError(await s.api.post('/api/auth/login', { username: 'butler', password: 'anything-at-all' }), 401, 'INVALID_CREDENTIALS');
  });

  it.each([
    ['an empty body', {}],
    ['no password', { username: 'Carol' }],
    ['no username', { password: 'carol-password' }],
    ['a numeric username', { username: 42, password: 'carol-password' }],
    ['a numeric password', { username: 'Carol', password: 12345678 }],
    ['a null password', { username: 'Carol', password: null }],
    ['an empty username', { username: '', password: 'carol-password' }],
    ['an object for a username', { username: { $ne: '' }, password: 'carol-password' }],
  ])('refuses %s with 400 VALIDATION_ERROR', async (_name, body) => {
    expectError(await s.api.post('/api/auth/login', body), 400, 'VALIDATION_ERROR');
  });
});

describe.each(dbKinds())('POST /api/auth/register on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind, env: { ALLOW_REGISTRATION: 'true' } });
  });
  afterAll(() => s?.close());

  it('answers 201 {token, user} as a MEMBER, and the user can log in', async () => {
    const res = await s.api.post('/api/auth/register', { username: 'dave.d-1_x', password: 'dave-password' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['token', 'user']);
    expect(Object.keys(res.body.user).sort()).toEqual(HUMAN_KEYS);
    expect(res.body.user).toMatchObject({ username: 'dave.d-1_x', role: 'MEMBER' });
    expect((await s.api.get(`/api/users/${res.body.user.id}`, res.body.token)).status).toBe(200);
    const login = await s.api.post('/api/auth/login', { username: 'dave.d-1_x', password: 'dave-password' });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual(res.body.user);
  });

  it('always registers a MEMBER, whatever role the body asks for', async () => {
    const res = await s.api.post('/api/auth/register', { username: 'sneaky', password: 'sneaky-password', role: 'ADMIN' });
    expect(res.status).toBe(201);
    expect(res.body.user.role).toBe('MEMBER');
    expectError(await s.api.get('/api/users', res.body.token), 403, 'FORBIDDEN');
  });

  it('refuses a body that tries prototype poisoning (__proto__) with 400 and creates nobody', async () => {
    const raw = '{"username":"proto-user","password":"proto-password","__proto__":{"role":"ADMIN"}}';
    expectError(await s.api.request('POST', '/api/auth/register', undefined, { raw }), 400, 'VALIDATION_ERROR');
    expectError(await s.api.post('/api/auth/login', { username: 'proto-user', password: 'proto-password' }), 401, 'INVALID_CREDENTIALS');
  });

  it.each([['admin'], ['ADMIN'], ['Butler'], ['DAVE.D-1_X']])('refuses the taken name %s (any case) with 409 CONFLICT', async (username) => {
    await s.api.post('/api/auth/register', { username: 'dave.d-1_x', password: 'dave-password' });
    expectError(await s.api.post('/api/auth/register', { username, password: 'another-password' }), 409, 'CONFLICT');
  });

  it.each([
    ['a 7-character password', { username: 'eve1', password: '1234567' }],
    ['a 129-character password', { username: 'eve2', password: 'p'.repeat(129) }],
    ['a 65-character username', { username: 'u'.repeat(65), password: 'password123' }],
    ['an empty username', { username: '', password: 'password123' }],
    ['a username with a space', { username: 'eve smith', password: 'password123' }],
    ['a username with a slash', { username: 'eve/smith', password: 'password123' }],
    ['a username with non-ASCII letters', { username: 'évé', password: 'password123' }],
    ['a numeric username', { username: 12345, password: 'password123' }],
    ['a missing password', { username: 'eve3' }],
  ])('refuses %s with 400 VALIDATION_ERROR', async (_name, body) => {
    expectError(await s.api.post('/api/auth/register', body), 400, 'VALIDATION_ERROR');
  });

  it('accepts the limits: a 64-character username and 8- and 128-character passwords', async () => {
    expect((await s.api.post('/api/auth/register', { username: 'u'.repeat(64), password: 'p'.repeat(128) })).status).toBe(201);
    expect((await s.api.post('/api/auth/register', { username: 'eight', password: '12345678' })).status).toBe(201);
  });
});

describe.each(dbKinds())('POST /api/auth/register with ALLOW_REGISTRATION=false on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind, env: { ALLOW_REGISTRATION: 'false' } });
  });
  afterAll(() => s?.close());

  it('refuses with 403 FORBIDDEN and creates nobody', async () => {
    expectError(await s.api.post('/api/auth/register', { username: 'frank', password: 'frank-password' }), 403, 'FORBIDDEN');
    expectError(await s.api.post('/api/auth/login', { username: 'frank', password: 'frank-password' }), 401, 'INVALID_CREDENTIALS');
    const users = await s.api.get('/api/users', s.adminToken);
    expect(users.body.map((u: { username: string }) => u.username)).not.toContain('frank');
  });

  it('still lets an admin create users', async () => {
    expect((await s.api.post('/api/users', { username: 'frank', password: 'frank-password', role: 'MEMBER' }, s.adminToken)).status).toBe(201);
    expect((await s.api.post('/api/auth/login', { username: 'frank', password: 'frank-password' })).status).toBe(200);
  });
});

/** A login from another loopback source address (the limiter counts per username and address). */
function loginFrom(url: string, localAddress: string, body: unknown): Promise<number> {
  const target = new URL('/api/auth/login', url);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', localAddress, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe.each(dbKinds())('login rate limiting on %s', (kind) => {
  let s: TestApp;
  let clock: ManualClock;
  let adminToken: string;
  beforeAll(async () => {
    clock = new ManualClock();
    s = await startTestApp({ db: kind, deps: { clock }, login: false });
    adminToken = (await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.token;
    for (const name of ['grace', 'heidi', 'ivan', 'judy', 'mallory']) {
      expect((await s.api.post('/api/users', { username: name, password: `${name}-password`, role: 'MEMBER' }, adminToken)).status).toBe(201);
    }
  });
  afterAll(() => s?.close());

  const fail = (username: string, times: number, headers: Record<string, string> = {}) =>
    Promise.all(Array.from({ length: times }, () => s.api.request('POST', '/api/auth/login', { username, password: 'wrong-password' }, { headers })));

  it('after 10 failures refuses even the right password with 429 RATE_LIMITED and a Retry-After', async () => {
    const failures = await fail('grace', 10);
    for (const f of failures) expectError(f, 401, 'INVALID_CREDENTIALS');
    const res = await s.api.post('/api/auth/login', { username: 'grace', password: 'grace-password' });
    expectError(res, 429, 'RATE_LIMITED');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('counts the username case-insensitively and ignores X-Forwarded-For', async () => {
    await fail('HEIDI', 5);
    await fail('heidi', 5, { 'X-Forwarded-For': '203.0.113.7' });
    const res = await s.api.request('POST', '/api/auth/login', { username: 'Heidi', password: 'heidi-password' }, { headers: { 'X-Forwarded-For': '198.51.100.1' } });
    expectError(res, 429, 'RATE_LIMITED');
  });

  it('allows 9 failures, then the right password still logs in', async () => {
    await fail('ivan', 9);
    expect((await s.api.post('/api/auth/login', { username: 'ivan', password: 'ivan-password' })).status).toBe(200);
  });

  it('leaves other usernames and other addresses unaffected', async () => {
    await fail('judy', 10);
    expectError(await s.api.post('/api/auth/login', { username: 'judy', password: 'judy-password' }), 429, 'RATE_LIMITED');
    expect((await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).status).toBe(200);
    expect(await loginFrom(s.app.url(), '127.0.0.2', { username: 'judy', password: 'judy-password' })).toBe(200);
  });

  it('counts failures for unknown usernames too', async () => {
    await fail('ghost-user', 10);
    expectError(await s.api.post('/api/auth/login', { username: 'ghost-user', password: 'wrong-password' }), 429, 'RATE_LIMITED');
  });

  it('lasts for the rest of the minute counted from the first failure; refused attempts do not extend it', async () => {
    await fail('mallory', 1);
    clock.advance(50_000);
    await fail('mallory', 9);
    expectError(await s.api.post('/api/auth/login', { username: 'mallory', password: 'mallory-password' }), 429, 'RATE_LIMITED');
    clock.advance(5_000);
    // Refused attempts during the block do not count and do not move the window.
    await fail('mallory', 3);
    expectError(await s.api.post('/api/auth/login', { username: 'mallory', password: 'mallory-password' }), 429, 'RATE_LIMITED');
    clock.advance(5_001);
    // The minute since the first failure is over: a wrong password is an ordinary 401 again...
    expectError((await fail('mallory', 1))[0], 401, 'INVALID_CREDENTIALS');
    // ...and the right one logs in.
    expect((await s.api.post('/api/auth/login', { username: 'mallory', password: 'mallory-password' })).status).toBe(200);
  });
});

describe.each(dbKinds())('JWT credentials on %s', (kind) => {
  let s: TestApp;
  let member: { user: { id: number }; token: string };
  const sign = (payload: object, secret: string, options: jwt.SignOptions = {}) => jwt.sign(payload, secret, { algorithm: 'HS256', ...options });
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    member = await createHuman(s.api, s.adminToken, 'kim');
  });
  afterAll(() => s?.close());

  const refused = async (authorization: string | undefined) => {
    const res = await s.api.request('GET', '/api/users/butler', undefined, { headers: authorization === undefined ? {} : { Authorization: authorization } });
    expectError(res, 401, 'UNAUTHORIZED');
  };

  it('accepts a fresh JWT on a protected route', async () => {
    expect((await s.api.get('/api/users/butler', member.token)).status).toBe(200);
  });

  it('refuses a missing credential with 401 UNAUTHORIZED', () => refused(undefined));
  it('refuses an empty Authorization header', () => refused(''));
  it('refuses a bearer that is not a JWT', () => refused('Bearer not-a-jwt'));
  it('refuses a JWT without the Bearer scheme', () => refused(member.token));
  it('refuses another scheme', () => refused(`Basic ${Buffer.from('admin:admin123').toString('base64')}`));
  it('refuses a truncated JWT', () => refused(`Bearer ${member.token.slice(0, -5)}`));

  it('refuses an expired JWT', async () => {
    const secret = s.app.config.jwt.secret;
    const expired = sign({ role: 'MEMBER', exp: Math.floor(Date.now() / 1000) - 60 }, secret, { subject: String(member.user.id) });
    await refused(`Bearer ${expired}`);
  });

  it('refuses a JWT signed with another secret', async () => {
    const forged = sign({ role: 'ADMIN' }, 'some-other-secret-that-is-long-enough!!', { subject: String(member.user.id), expiresIn: 3600 });
    await refused(`Bearer ${forged}`);
  });

  it('refuses an unsigned (alg none) JWT', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: String(member.user.id), role: 'ADMIN', exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
    await refused(`Bearer ${none}`);
  });

  it('refuses a JWT signed with the right secret but another algorithm', async () => {
    const hs512 = jwt.sign({ role: 'MEMBER' }, s.app.config.jwt.secret, { algorithm: 'HS512', subject: String(member.user.id), expiresIn: 3600 });
    await refused(`Bearer ${hs512}`);
  });

  it('refuses a validly signed JWT for a user that does not exist, for the Butler, or for an agent', async () => {
    const secret = s.app.config.jwt.secret;
    const butler = (await s.api.get('/api/users/butler', s.adminToken)).body;
    const { agent } = await createAgent(s.api, s.adminToken, 'jwt-agent');
    for (const [sub, role] of [['999999', 'ADMIN'], [String(butler.id), 'BUTLER'], [String(agent.id), 'AGENT']]) {
      await refused(`Bearer ${sign({ role }, secret, { subject: sub, expiresIn: 3600 })}`);
    }
  });

  it("takes the role from the database, not from the token's claim", async () => {
    const claimsAdmin = sign({ role: 'ADMIN' }, s.app.config.jwt.secret, { subject: String(member.user.id), expiresIn: 3600 });
    expectError(await s.api.get('/api/users', claimsAdmin), 403, 'FORBIDDEN');
  });

  it("stops a deleted user's JWT at once", async () => {
    const doomed = await createHuman(s.api, s.adminToken, 'doomed');
    expect((await s.api.get('/api/users/butler', doomed.token)).status).toBe(200);
    expect((await s.api.delete(`/api/users/${doomed.user.id}`, s.adminToken)).status).toBe(204);
    expectError(await s.api.get('/api/users/butler', doomed.token), 401, 'UNAUTHORIZED');
    expectError(await s.api.get(`/api/users/${doomed.user.id}`, doomed.token), 401, 'UNAUTHORIZED');
  });

  it("does not revive a deleted user's JWT when a newer user is created (ids are never reused)", async () => {
    const last = await createHuman(s.api, s.adminToken, 'last-one');
    expect((await s.api.delete(`/api/users/${last.user.id}`, s.adminToken)).status).toBe(204);
    const next = await createHuman(s.api, s.adminToken, 'next-one');
    expect(next.user.id).toBeGreaterThan(last.user.id);
    expectError(await s.api.get('/api/users/butler', last.token), 401, 'UNAUTHORIZED');
  });

  it("stops a deleted admin's JWT on admin routes at once", async () => {
    const other = await createHuman(s.api, s.adminToken, 'other-admin', 'ADMIN');
    expect((await s.api.get('/api/users', other.token)).status).toBe(200);
    expect((await s.api.delete(`/api/users/${other.user.id}`, s.adminToken)).status).toBe(204);
    expectError(await s.api.get('/api/users', other.token), 401, 'UNAUTHORIZED');
    expectError(await s.api.post('/api/users', { username: 'late', password: 'late-password', role: 'ADMIN' }, other.token), 401, 'UNAUTHORIZED');
  });
});
