import { User } from '../../src/users/user.entity';
import { createApp, type App } from '../../src/app';
import { initOrm } from '../../src/db/orm';
import { ENTITIES } from '../../src/entities';
import { createLogger } from '../../src/shared/logger';
import { createAgent, createHuman, dbKinds, expectError, postgresDb, postgresUrl, RestClient, startTestApp, type TestApp, testConfig, warnIfPostgresSkipped } from '../support';

const N = 20;
const times = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));

describe.each(dbKinds())('concurrent writers on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    warnIfPostgresSkipped('concurrency');
    s = await startTestApp({ db: kind });
  });
  afterAll(() => s?.close());

  it(`${N} parallel registrations all succeed and can all log in`, async () => {
    const results = await Promise.all(times(N, (i) => s.api.post('/api/auth/register', { username: `racer-${i}`, password: `racer-password-${i}` })));
    expect(results.map((r) => r.status)).toEqual(times(N, () => 201));
    expect(new Set(results.map((r) => r.body.user.id)).size).toBe(N);
    const logins = await Promise.all(times(N, (i) => s.api.post('/api/auth/login', { username: `racer-${i}`, password: `racer-password-${i}` })));
    expect(logins.map((r) => r.status)).toEqual(times(N, () => 200));
  });

  it(`${N} parallel POST /api/messages all succeed and are all stored`, async () => {
    const agents = await Promise.all(times(4, (i) => createAgent(s.api, s.adminToken, `writer-${i}`)));
    const results = await Promise.all(
      times(N, (i) => s.api.post('/api/messages', { level: 'INFO', content: `parallel ${i}` }, i % 5 === 4 ? s.adminToken : agents[i % 4].token)),
    );
    expect(results.map((r) => r.status)).toEqual(times(N, () => 201));
    const ids = results.map((r) => r.body.id as number);
    expect(new Set(ids).size).toBe(N);
    const listed = (await s.api.get('/api/messages?q=parallel&limit=200', s.adminToken)).body as { id: number }[];
    expect(listed.map((e) => e.id).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
  });

  it('mixed parallel writes (users, agents, rotations, logs, deletions) never fail', async () => {
    const victims = await Promise.all(times(5, (i) => createHuman(s.api, s.adminToken, `victim-${i}`)));
    const rotated = await Promise.all(times(5, (i) => createAgent(s.api, s.adminToken, `spinner-${i}`)));
    const work = [
      ...times(5, (i) => s.api.post('/api/users', { username: `mixed-${i}`, password: 'password123', role: 'MEMBER' }, s.adminToken)),
      ...times(5, (i) => s.api.post('/api/users/agents', { username: `mixed-bot-${i}` }, s.adminToken)),
      ...rotated.map((a) => s.api.patch(`/api/users/agents/${a.agent.id}/token`, undefined, s.adminToken)),
      ...victims.map((v) => s.api.delete(`/api/users/${v.user.id}`, s.adminToken)),
      ...times(5, (i) => s.api.post('/api/messages', { level: 'DEBUG', content: `mixed ${i}` }, s.adminToken)),
    ];
    const statuses = (await Promise.all(work)).map((r) => r.status);
    expect(statuses).toEqual([...times(5, () => 201), ...times(5, () => 201), ...times(5, () => 200), ...times(5, () => 204), ...times(5, () => 201)]);
  });

  it('one of ten parallel registrations of the same name (any case) wins; the rest get 409', async () => {
    const results = await Promise.all(times(10, (i) => s.api.post('/api/auth/register', { username: i % 2 ? 'Twin' : 'tWIN', password: 'twin-password' })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 201)) expectError(r, 409, 'CONFLICT');
  });

  it('two admins deleting each other at once leave exactly one admin', async () => {
    const a = await createHuman(s.api, s.adminToken, 'duelist-a', 'ADMIN');
    const b = await createHuman(s.api, s.adminToken, 'duelist-b', 'ADMIN');
    // Leave only the two duelists as admins.
    const bootstrap = (await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.user;
    expect((await s.api.delete(`/api/users/${bootstrap.id}`, a.token)).status).toBe(204);
    const [ab, ba] = await Promise.all([s.api.delete(`/api/users/${b.user.id}`, a.token), s.api.delete(`/api/users/${a.user.id}`, b.token)]);
    expect([ab.status, ba.status].filter((st) => st === 204)).toHaveLength(1);
    for (const r of [ab, ba].filter((r) => r.status !== 204)) expect([401, 409]).toContain(r.status);
    const survivor = ab.status === 204 ? a : b;
    const users = (await s.api.get('/api/users?limit=200', survivor.token)).body as { role: string }[];
    expect(users.filter((u) => u.role === 'ADMIN')).toHaveLength(1);
    s.adminToken = survivor.token;
  });
});

describe('SQLite connection settings', () => {
  it('runs in WAL mode with a busy timeout and foreign keys on', async () => {
    const s = await startTestApp();
    try {
      const conn = s.app.orm.em.getConnection();
      const one = async (pragma: string) => Object.values((await conn.execute(`pragma ${pragma}`))[0] as object)[0];
      expect(await one('journal_mode')).toBe('wal');
      expect(Number(await one('busy_timeout'))).toBeGreaterThanOrEqual(1000);
      expect(Number(await one('foreign_keys'))).toBe(1);
    } finally {
      await s.close();
    }
  });
});

const pg = postgresUrl ? describe : describe.skip;

pg('bootstrap when two replicas start at the same moment on one fresh PostgreSQL', () => {
  // "migrated" starts both replicas on a schema that is already there, so that their bootstraps (not
  // their migrations, which take turns under an advisory lock) are what overlaps.
  it.each([
    ['empty', 1],
    ['migrated', 1],
    ['migrated', 2],
  ])('both come up and there is exactly one Butler and one admin (%s database, round %i)', async (state) => {
    const db = await postgresDb();
    const apps: App[] = [];
    try {
      if (state === 'migrated') {
        const config = testConfig(db.env);
        const orm = await initOrm(config, createLogger('silent'), ENTITIES);
        await orm.close(true);
      }
      const started = await Promise.allSettled([createApp(testConfig(db.env)), createApp(testConfig(db.env))]);
      for (const r of started) if (r.status === 'fulfilled') apps.push(r.value);
      expect(started.map((r) => (r.status === 'rejected' ? String(r.reason) : 'up'))).toEqual(['up', 'up']);

      const em = apps[0].orm.em.fork();
      expect(await em.count(User, { role: 'BUTLER' })).toBe(1);
      expect(await em.count(User, { role: 'ADMIN' })).toBe(1);
      for (const app of apps) {
        const api = new RestClient(await app.listen(0, '127.0.0.1'));
        const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
        expect(login.status).toBe(200);
        expect((await api.get('/api/users/butler', login.body.token)).status).toBe(200);
      }
    } finally {
      await Promise.all(apps.map((a) => a.close()));
      await db.drop();
    }
  });
});
