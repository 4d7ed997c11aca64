import { dbKinds, warnIfPostgresSkipped } from '../helpers/db';
import { startServer, type TestServer } from '../helpers/server';

describe.each(dbKinds())('REST basics on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    warnIfPostgresSkipped('REST basics');
    s = await startServer(kind);
  });
  afterAll(() => s?.close());

  it('GET /api/ping answers ok with a request id', async () => {
    const res = await s.api.get('/api/ping');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });
});
