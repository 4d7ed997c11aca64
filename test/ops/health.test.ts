import { loadConfig } from '../../src/config/config';
import { createApp } from '../../src/app';
import { createDb, dbKinds, expectError, RestClient, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

describe.each(dbKinds())('health, readiness and metrics on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    warnIfPostgresSkipped('health');
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it('GET /api/ping answers 200 {status: "ok"} without credentials', async () => {
    const res = await s.api.get('/api/ping');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('GET /healthz answers 200 while the process runs', async () => {
    const res = await s.api.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('GET /readyz answers 200 when the database answers', async () => {
    const res = await s.api.get('/readyz');
    expect(res.status).toBe(200);
  });

  it('GET /metrics serves Prometheus text that counts requests', async () => {
    await s.api.get('/api/ping');
    const res = await s.api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^# HELP /m);
    expect(res.text).toContain('echocenter_http_request_duration_seconds_count');
  });
});

describe.each(dbKinds())('readiness and faults when the database is gone on %s', (kind) => {
  it('GET /readyz answers 503 UNAVAILABLE, a protected route 500, and /healthz stays 200', async () => {
    const s = await startTestApp({ db: kind });
    try {
      await s.app.orm.close(true);
      const ready = await s.api.get('/readyz');
      expectError(ready, 503, 'UNAVAILABLE');
      const fault = await s.api.get('/api/users/butler', s.adminToken);
      // A database fault during authentication is a fault, not a disguised 401.
      expectError(fault, 500, 'INTERNAL_ERROR');
      expect((await s.api.get('/healthz')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('in production a 500 says nothing about its cause and still carries X-Request-Id', async () => {
    const db = await createDb(kind);
    const app = await createApp(
      loadConfig({
        ...db.env,
        NODE_ENV: 'production',
        JWT_SECRET: 'a-production-secret-of-more-than-32-characters',
        ADMIN_USERNAME: 'root',
        ADMIN_PASSWORD: 'a-real-admin-password',
        BCRYPT_ROUNDS: '4',
        LOG_LEVEL: 'silent',
        SHUTDOWN_TIMEOUT: '2s',
      }),
    );
    try {
      const api = new RestClient(await app.listen(0, '127.0.0.1'));
      const login = await api.post('/api/auth/login', { username: 'root', password: 'a-real-admin-password' });
      expect(login.status).toBe(200);
      await app.orm.close(true);
      const res = await api.get('/api/users', login.body.token);
      expectError(res, 500, 'INTERNAL_ERROR');
      expect(res.body.error).toBe('Internal server error');
      expect(res.text).not.toMatch(/sql|sqlite|knex|pool|connection|stack|\.ts:/i);
    } finally {
      await app.close();
      await db.drop();
    }
  });
});
