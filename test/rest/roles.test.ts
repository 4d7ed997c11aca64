import { createAgent, createHuman, dbKinds, expectError, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

/**
 * The role table of PROTOCOL §2 as one matrix: every route but /api/chat/auth/*, every kind of
 * caller. An agent's API token is accepted only by POST /api/messages and gets 401 elsewhere.
 */
type Caller = 'nobody' | 'garbage' | 'agent' | 'member' | 'admin';
type Call = { method: string; path: string; body?: unknown };

interface Fixture {
  s: TestApp;
  tokens: Record<Caller, string | undefined>;
  memberId: number;
  otherMemberId: number;
  agentId: number;
  /** A fresh throwaway agent or member for a call that changes something. */
  freshAgent(): Promise<{ id: number; token: string }>;
  freshMember(): Promise<number>;
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

const ROUTES: [string, (f: Fixture) => Promise<Call>, Partial<Record<Caller, number>>][] = [
  ['GET /api/users', async () => ({ method: 'GET', path: '/api/users' }), { admin: 200, member: 403 }],
  ['GET /api/users/:id (self)', async (f) => ({ method: 'GET', path: `/api/users/${f.memberId}` }), { admin: 200, member: 200 }],
  ['GET /api/users/:id (someone else)', async (f) => ({ method: 'GET', path: `/api/users/${f.otherMemberId}` }), { admin: 200, member: 403 }],
  [
    'POST /api/users',
    async () => ({ method: 'POST', path: '/api/users', body: { username: unique('made'), password: 'password123', role: 'MEMBER' } }),
    { admin: 201, member: 403 },
  ],
  ['DELETE /api/users/:id', async (f) => ({ method: 'DELETE', path: `/api/users/${await f.freshMember()}` }), { admin: 204, member: 403 }],
  ['GET /api/users/agents', async () => ({ method: 'GET', path: '/api/users/agents' }), { admin: 200, member: 200 }],
  ['GET /api/users/agents/status', async () => ({ method: 'GET', path: '/api/users/agents/status' }), { admin: 200, member: 200 }],
  ['GET /api/users/butler', async () => ({ method: 'GET', path: '/api/users/butler' }), { admin: 200, member: 200 }],
  ['POST /api/users/agents', async () => ({ method: 'POST', path: '/api/users/agents', body: { username: unique('bot') } }), { admin: 201, member: 403 }],
  ['PATCH /api/users/agents/:id/token', async (f) => ({ method: 'PATCH', path: `/api/users/agents/${(await f.freshAgent()).id}/token` }), { admin: 200, member: 403 }],
  [
    'POST /api/users/agents/test-connection',
    async (f) => ({ method: 'POST', path: '/api/users/agents/test-connection', body: { api_token: (await f.freshAgent()).token } }),
    { admin: 200, member: 403 },
  ],
  ['DELETE /api/users/agents/:id', async (f) => ({ method: 'DELETE', path: `/api/users/agents/${(await f.freshAgent()).id}` }), { admin: 204, member: 403 }],
  ['GET /api/messages', async () => ({ method: 'GET', path: '/api/messages' }), { admin: 200, member: 200 }],
  ['POST /api/messages', async () => ({ method: 'POST', path: '/api/messages', body: { level: 'INFO', content: 'hello' } }), { admin: 201, member: 403, agent: 201 }],
  ['GET /api/chat/history/:peer_id', async (f) => ({ method: 'GET', path: `/api/chat/history/${f.otherMemberId}` }), { admin: 200, member: 200 }],
  ['GET /api/chat/butler-agent/:agent_id', async (f) => ({ method: 'GET', path: `/api/chat/butler-agent/${f.agentId}` }), { admin: 200, member: 403 }],
];

const CALLERS: Caller[] = ['nobody', 'garbage', 'agent', 'member', 'admin'];
const CODES: Record<number, string> = { 401: 'UNAUTHORIZED', 403: 'FORBIDDEN' };

describe.each(dbKinds())('who may call which route on %s', (kind) => {
  const f = {} as Fixture;
  beforeAll(async () => {
    warnIfPostgresSkipped('roles');
    f.s = await startTestApp({ db: kind });
    const { s } = f;
    const member = await createHuman(s.api, s.adminToken, 'matrix-member');
    f.memberId = member.user.id;
    f.otherMemberId = (await createHuman(s.api, s.adminToken, 'matrix-other')).user.id;
    const agent = await createAgent(s.api, s.adminToken, 'matrix-agent');
    f.agentId = agent.agent.id;
    f.tokens = { nobody: undefined, garbage: 'not-a-credential', agent: agent.token, member: member.token, admin: s.adminToken };
    f.freshAgent = async () => {
      const a = await createAgent(s.api, s.adminToken, unique('fresh-bot'));
      return { id: a.agent.id, token: a.token };
    };
    f.freshMember = async () => (await createHuman(s.api, s.adminToken, unique('fresh-member'))).user.id;
  });
  afterAll(() => f.s?.close());

  const cases = ROUTES.flatMap(([name, build, allowed]) => CALLERS.map((caller) => [name, caller, build, allowed[caller] ?? 401] as const));

  it.each(cases)('%s as %s', async (_name, caller, build, expected) => {
    const call = await build(f);
    const res = await f.s.api.request(call.method, call.path, call.body, { token: f.tokens[caller] });
    if (expected >= 400) expectError(res, expected, CODES[expected]);
    else expect({ status: res.status, body: res.body }).toEqual({ status: expected, body: expected === 204 ? undefined : expect.anything() });
  });

  it('anyone may call the public routes', async () => {
    for (const path of ['/api/ping', '/healthz', '/readyz', '/metrics']) {
      expect((await f.s.api.get(path)).status).toBe(200);
    }
    expect((await f.s.api.post('/api/auth/login', { username: 'matrix-member', password: 'password123' })).status).toBe(200);
    expect((await f.s.api.post('/api/auth/register', { username: unique('self-made'), password: 'password123' })).status).toBe(201);
  });
});
