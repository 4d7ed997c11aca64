import { Writable } from 'node:stream';
import { createLogger } from '../../src/shared/logger';
import { HumanCredential, MachineCredential } from '../../src/auth/credential.entity';
import { type ApiResponse, dbKinds, type RequestOptions, RestClient, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

interface Seen {
  label: string;
  res: ApiResponse;
}

/** A RestClient that keeps every response, so that the test can scan all of them afterwards. */
class RecordingApi extends RestClient {
  readonly seen: Seen[] = [];
  override async request(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse> {
    const res = await super.request(method, path, body, opts);
    this.seen.push({ label: `${method} ${path} -> ${res.status}`, res });
    return res;
  }
}

const everything = (r: ApiResponse) => [r.text, ...[...r.headers.entries()].map(([k, v]) => `${k}: ${v}`)].join('\n');
const HASH_SHAPES = [/\$2[aby]\$\d\d\$/, /\$argon2/];
const TOKEN_SHAPE = /ec_[A-Za-z0-9_-]{20,}/;

describe.each(dbKinds())('no response or log line leaks a secret on %s', (kind) => {
  let s: TestApp;
  const logLines: string[] = [];
  beforeAll(async () => {
    warnIfPostgresSkipped('secrets');
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    s = await startTestApp({ db: kind, deps: { logger: createLogger('debug', sink) }, login: false });
  });
  afterAll(() => s?.close());

  it('shows an agent token only in the response that creates or rotates it, and never a hash', async () => {
    const api = new RecordingApi(s.api.baseUrl);
    const passwords = ['admin123', 'member-secret-1', 'admin2-secret-1', 'registered-secret-1', 'Wrong-Password-9'];
    const issuers = new Map<Seen, string>();
    const issue = (res: ApiResponse) => {
      issuers.set(api.seen[api.seen.length - 1], res.body.api_token);
      return res.body.api_token as string;
    };

    const admin = (await api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.token as string;
    const member = (await api.post('/api/users', { username: 'm1', password: 'member-secret-1', role: 'MEMBER' }, admin)).body.user;
    const admin2 = (await api.post('/api/users', { username: 'a2', password: 'admin2-secret-1', role: 'ADMIN' }, admin)).body.user;
    const reg = (await api.post('/api/auth/register', { username: 'r1', password: 'registered-secret-1' })).body;
    const memberToken = (await api.post('/api/auth/login', { username: 'm1', password: 'member-secret-1' })).body.token as string;
    await api.post('/api/auth/login', { username: 'm1', password: 'Wrong-Password-9' });
    await api.post('/api/users', { username: 'bad', password: 'short', role: 'MEMBER' }, admin);

    const created1 = await api.post('/api/users/agents', { username: 'bot1', description: 'first' }, admin);
    const t1old = issue(created1);
    const created2 = await api.post('/api/users/agents', { username: 'bot2' }, admin);
    const t2 = issue(created2);
    const t1 = issue(await api.patch(`/api/users/agents/${created1.body.agent.id}/token`, undefined, admin));
    // A create that fails must not show a token either.
    await api.post('/api/users/agents', { username: 'BOT1' }, admin);

    for (const token of [t1, t1old, t2, 'ec_nonsense']) await api.post('/api/users/agents/test-connection', { api_token: token }, admin);
    await api.post('/api/messages', { level: 'INFO', content: 'from bot1' }, t1);
    await api.post('/api/messages', { level: 'INFO', content: 'stale' }, t1old);
    await api.post('/api/messages', { level: 'SUCCESS', content: 'from admin' }, admin);
    await api.get('/api/messages', memberToken);
    await api.get('/api/users', admin);
    for (const id of [member.id, admin2.id, reg.user.id, created1.body.agent.id, created2.body.agent.id]) await api.get(`/api/users/${id}`, admin);
    await api.get(`/api/users/${member.id}`, memberToken);
    await api.get('/api/users/agents', memberToken);
    await api.get('/api/users/agents/status', memberToken);
    await api.get('/api/users/butler', memberToken);
    await api.get(`/api/chat/history/${created1.body.agent.id}`, memberToken);
    await api.get(`/api/chat/butler-agent/${created1.body.agent.id}`, admin);
    await api.delete(`/api/users/agents/${created2.body.agent.id}`, admin);
    await api.post('/api/messages', { level: 'INFO', content: 'deleted' }, t2);
    await api.get('/api/users/agents', t2);
    await api.get('/api/users', memberToken);
    // A credential in the query string is ignored, and the access log has the path without the query.
    await api.get(`/api/users/butler?token=${memberToken}&api_token=${t1}`);

    const em = s.app.orm.em.fork();
    const passwordHashes = (await em.find(HumanCredential, {})).map((c) => c.passwordHash);
    const tokenHashes = (await em.find(MachineCredential, {})).map((c) => c.tokenHash);
    expect(passwordHashes.length).toBeGreaterThanOrEqual(4);
    expect(tokenHashes.length).toBeGreaterThanOrEqual(1);
    const tokens = [t1old, t1, t2];
    const forbidden = [...passwordHashes, ...tokenHashes, ...passwords];

    expect(api.seen.length).toBeGreaterThan(30);
    expect(issuers.size).toBe(3);
    for (const seen of api.seen) {
      const text = everything(seen.res);
      const own = issuers.get(seen);
      for (const shape of HASH_SHAPES) expect({ label: seen.label, leaks: shape.test(text) }).toEqual({ label: seen.label, leaks: false });
      for (const secret of forbidden) expect({ label: seen.label, leaks: text.includes(secret) }).toEqual({ label: seen.label, leaks: false });
      for (const token of tokens) {
        const count = text.split(token).length - 1;
        expect({ label: seen.label, count }).toEqual({ label: seen.label, count: token === own ? 1 : 0 });
      }
      if (!own) expect({ label: seen.label, leaks: TOKEN_SHAPE.test(text) }).toEqual({ label: seen.label, leaks: false });
    }

    // The logs of the whole flow hold no credential either (JWTs included), even at debug level.
    const logs = logLines.join('');
    expect(logs).toContain('"path":"/api/users/agents"');
    const jwts = [admin, memberToken, reg.token];
    for (const secret of [...forbidden, ...tokens, ...jwts]) expect({ secret, lines: logLines.filter((l) => l.includes(secret)) }).toEqual({ secret, lines: [] });
    for (const shape of [...HASH_SHAPES, TOKEN_SHAPE]) expect(shape.test(logs)).toBe(false);
  });
});

describe.each(dbKinds())('a database fault while writing credentials leaks nothing on %s', (kind) => {
  it('shows no password hash, token hash or token in the 500 body (development) or the error log', async () => {
    const logLines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    const s = await startTestApp({ db: kind, deps: { logger: createLogger('info', sink) }, login: false });
    try {
      const admin = (await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.token;
      const { api_token: token } = (await s.api.post('/api/users/agents', { username: 'bot' }, admin)).body;
      // Break the credential tables so that the next writes and lookups fail inside the driver.
      const conn = s.app.orm.em.getConnection();
      await conn.execute('alter table human_credentials rename to human_credentials_gone');
      await conn.execute('alter table machine_credentials rename to machine_credentials_gone');

      const faults = [
        await s.api.post('/api/users', { username: 'm1', password: 'member-secret-1', role: 'MEMBER' }, admin),
        await s.api.post('/api/users/agents', { username: 'bot2' }, admin),
        await s.api.post('/api/users/agents/test-connection', { api_token: token }, admin),
        await s.api.post('/api/messages', { level: 'INFO', content: 'x' }, token),
        await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' }),
      ];
      for (const res of faults) {
        expect({ status: res.status, code: res.body?.code }).toEqual({ status: 500, code: 'INTERNAL_ERROR' });
        // Outside production the cause is shown, but never a credential.
        expect(res.body.error).toMatch(/credentials/);
      }
      const errorLines = logLines.filter((l) => l.includes('"level":50'));
      expect(errorLines.length).toBeGreaterThanOrEqual(faults.length);
      const all = [...faults.map((r) => r.text), ...logLines].join('\n');
      for (const shape of [...HASH_SHAPES, TOKEN_SHAPE, /\b[0-9a-f]{64}\b/]) expect({ shape: String(shape), leaks: shape.test(all) }).toEqual({ shape: String(shape), leaks: false });
      expect(all.includes(token)).toBe(false);
      expect(all.includes('member-secret-1')).toBe(false);
    } finally {
      await s.close();
    }
  });
});
