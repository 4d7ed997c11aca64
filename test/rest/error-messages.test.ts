import { createAgent, expectError, startTestApp, type TestApp } from '../support';

/** Issue 13: an error names what is wrong (the JSON, a field's type, the content type), with its exact code. */
describe('errors that say what is wrong', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp();
  });
  afterAll(() => s?.close());

  const refusal = (res: { body: unknown }) => res.body;

  describe('malformed JSON', () => {
    it.each([
      ['POST /api/auth/login', '/api/auth/login', undefined],
      ['POST /api/users (admin)', '/api/users', 'admin'],
    ])('%s answers 400 VALIDATION_ERROR "request body is not valid JSON"', async (_name, path, who) => {
      const res = await s.api.request('POST', path, undefined, { raw: '{"username":"admin",', token: who ? s.adminToken : undefined });
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(refusal(res)).toEqual({ error: 'request body is not valid JSON', code: 'VALIDATION_ERROR' });
    });

    it.each(['[1,2]', '42', '"admin"', 'null'])('says when valid JSON %s is not an object', async (raw) => {
      const res = await s.api.request('POST', '/api/auth/login', undefined, { raw });
      expect(refusal(res)).toEqual({ error: 'request body must be a JSON object', code: 'VALIDATION_ERROR' });
    });
  });

  describe('a field of the wrong type', () => {
    it('POST /api/auth/login with {"username":123,"password":true} names both types, not "required"', async () => {
      const res = await s.api.post('/api/auth/login', { username: 123, password: true });
      expect(refusal(res)).toEqual({ error: 'username: username must be a string; password: password must be a string', code: 'VALIDATION_ERROR' });
    });

    it('POST /api/auth/login without the fields still says they are required', async () => {
      const res = await s.api.post('/api/auth/login', {});
      expect(refusal(res)).toEqual({ error: 'username: username is required; password: password is required', code: 'VALIDATION_ERROR' });
    });

    it.each([
      ['POST /api/auth/register', '/api/auth/register', { username: ['x'], password: 'long-enough-pw' }, 'username: username must be a string'],
      ['POST /api/users', '/api/users', { username: 'typed', password: 12345678, role: 'MEMBER' }, 'password: password must be a string'],
      ['POST /api/users/agents', '/api/users/agents', { username: 'typed-bot', description: 7 }, 'description: description must be a string'],
      ['POST /api/users/agents/test-connection', '/api/users/agents/test-connection', { api_token: 5 }, 'api_token: api_token must be a string'],
      ['POST /api/chat/auth/response', '/api/chat/auth/response', { action_id: 9, approved: true }, 'action_id: action_id must be a string'],
      ['POST /api/messages', '/api/messages', { level: 'INFO', content: {} }, 'content: content must be a string'],
    ])('%s names the mistyped field', async (_name, path, body, error) => {
      const res = await s.api.post(path, body, s.adminToken);
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(res.body.error).toBe(error);
    });
  });

  describe('a body that is not JSON', () => {
    const JSON_EXPECTED = { error: 'request body must be JSON (Content-Type: application/json)', code: 'UNSUPPORTED_MEDIA_TYPE' };

    it('a form-encoded login (curl -d without -H) answers 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await s.api.request('POST', '/api/auth/login', undefined, {
        raw: 'username=admin&password=admin123',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(refusal(res)).toEqual(JSON_EXPECTED);
    });

    it('a body without any Content-Type answers 415 on an authenticated route', async () => {
      const res = await fetch(`${s.url}/api/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${s.adminToken}` },
        body: new Uint8Array(Buffer.from('{"level":"INFO","content":"x"}')),
      });
      expect(res.status).toBe(415);
      expect(await res.json()).toEqual(JSON_EXPECTED);
    });

    it('leaves an unknown route a 404 NOT_FOUND whatever its body', async () => {
      const res = await s.api.request('POST', '/api/nowhere', undefined, { raw: 'a=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      expectError(res, 404, 'NOT_FOUND');
    });

    it('accepts JSON with a charset and a vendor +json type', async () => {
      for (const type of ['application/json; charset=utf-8', 'application/vnd.api+json']) {
        const res = await s.api.request('POST', '/api/auth/login', undefined, { raw: '{"username":"admin","password":"admin123"}', headers: { 'Content-Type': type } });
        expect(res.status).toBe(200);
      }
    });

    it('lets a bodiless PATCH through (token rotation sends no body)', async () => {
      const agent = await createAgent(s.api, s.adminToken, 'bodiless-bot');
      const res = await fetch(`${s.url}/api/users/agents/${agent.agent.id}/token`, { method: 'PATCH', headers: { Authorization: `Bearer ${s.adminToken}` } });
      expect(res.status).toBe(200);
    });
  });
});
