import { dbKinds, expectError, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

const MiB = 1024 * 1024;

describe.each(dbKinds())('errors every route shares on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    warnIfPostgresSkipped('errors');
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  describe('unknown routes', () => {
    it.each([
      ['GET', '/api/nope'],
      ['GET', '/api'],
      ['POST', '/api/ping'],
      ['PUT', '/api/users'],
      ['DELETE', '/api/messages'],
      ['GET', '/api/users/agents/1/token'],
      ['GET', '/api/chat/history'],
    ])('%s %s answers 404 NOT_FOUND', async (method, path) => {
      expectError(await s.api.request(method, path, undefined, { token: s.adminToken }), 404, 'NOT_FOUND');
    });

    it('answers 404 for an unknown route even without credentials', async () => {
      expectError(await s.api.get('/api/secret-stuff'), 404, 'NOT_FOUND');
    });
  });

  describe('malformed bodies', () => {
    it.each([
      ['a broken object', '{"username": "admin", '],
      ['bare text', 'hello'],
      ['a lone brace', '}'],
    ])('refuses %s with 400 VALIDATION_ERROR', async (_name, raw) => {
      const res = await s.api.request('POST', '/api/auth/login', undefined, { raw });
      expectError(res, 400, 'VALIDATION_ERROR');
    });

    it('refuses malformed JSON on an admin route with 400 VALIDATION_ERROR', async () => {
      const res = await s.api.request('POST', '/api/users', undefined, { raw: '{"username":', token: s.adminToken });
      expectError(res, 400, 'VALIDATION_ERROR');
    });

    it.each([
      ['an array', '[1,2,3]'],
      ['a string', '"admin"'],
      ['a number', '42'],
      ['null', 'null'],
    ])('refuses %s where an object is expected with 400', async (_name, raw) => {
      const res = await s.api.request('POST', '/api/users', undefined, { raw, token: s.adminToken });
      expectError(res, 400, 'VALIDATION_ERROR');
    });

    it('refuses a body that is not JSON at all (text/plain) with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await s.api.request('POST', '/api/auth/login', undefined, {
        raw: 'username=admin&password=admin123',
        headers: { 'Content-Type': 'text/plain' },
      });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('body size', () => {
    it('refuses a body over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
      const raw = JSON.stringify({ username: 'admin', password: 'admin123', padding: 'x'.repeat(MiB + 16) });
      expectError(await s.api.request('POST', '/api/auth/login', undefined, { raw }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('refuses an oversized body on an authenticated route with 413', async () => {
      const raw = JSON.stringify({ level: 'INFO', content: 'x'.repeat(2 * MiB) });
      expectError(await s.api.request('POST', '/api/messages', undefined, { raw, token: s.adminToken }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('accepts a body just under 1 MiB (unknown fields are ignored)', async () => {
      const raw = JSON.stringify({ username: 'admin', password: 'admin123', padding: 'x'.repeat(MiB - 100) });
      expect(Buffer.byteLength(raw)).toBeLessThan(MiB);
      const res = await s.api.request('POST', '/api/auth/login', undefined, { raw });
      expect(res.status).toBe(200);
    });
  });

  describe('X-Request-Id', () => {
    it.each([
      ['a success', 'GET', '/api/ping', 200],
      ['a 400', 'GET', '/api/messages?limit=0', 400],
      ['a 401', 'GET', '/api/users', 401],
      ['a 404', 'GET', '/api/nowhere', 404],
    ])('is present on %s', async (_name, method, path, status) => {
      const res = await s.api.request(method, path, undefined, status === 401 ? {} : { token: s.adminToken });
      expect(res.status).toBe(status);
      expect(res.headers.get('x-request-id')).toMatch(/^[\w.:-]{1,128}$/);
    });

    it('differs from one request to the next', async () => {
      const a = await s.api.get('/api/ping');
      const b = await s.api.get('/api/ping');
      expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
    });

    it('keeps a sane incoming id and replaces one that is not', async () => {
      const kept = await s.api.request('GET', '/api/ping', undefined, { headers: { 'X-Request-Id': 'trace-42.a:b' } });
      expect(kept.headers.get('x-request-id')).toBe('trace-42.a:b');
      const evil = 'x'.repeat(300);
      const replaced = await s.api.request('GET', '/api/ping', undefined, { headers: { 'X-Request-Id': evil } });
      expect(replaced.headers.get('x-request-id')).toBeTruthy();
      expect(replaced.headers.get('x-request-id')).not.toBe(evil);
    });

    it('is exposed to browsers through CORS', async () => {
      const res = await s.api.request('GET', '/api/ping', undefined, { headers: { Origin: 'http://example.test' } });
      expect(res.headers.get('access-control-expose-headers')).toMatch(/X-Request-Id/i);
    });
  });
});
