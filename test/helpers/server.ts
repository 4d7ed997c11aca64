import { createApp, type App, type AppDeps } from '../../src/app';
import { loadConfig, type Config } from '../../src/config/config';
import { createDb, type DbKind, type TestDb } from './db';
import { Api } from './api';

/** A configuration for tests: cheap bcrypt, silent logs, a fixed secret; overrides win. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-signing',
    BCRYPT_ROUNDS: '4',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT: '2s',
    ...env,
  });
}

export interface TestServer {
  app: App;
  url: string;
  api: Api;
  db: TestDb;
  /** A JWT of the bootstrap admin (`admin` / `admin123`). */
  adminToken: string;
  close(): Promise<void>;
}

/** Starts the real app on port 0 against a fresh database of `kind` (`deps`: fakes and fault ports). */
export async function startServer(kind: DbKind = 'sqlite', env: Record<string, string> = {}, db?: TestDb, deps: AppDeps = {}): Promise<TestServer> {
  const database = db ?? (await createDb(kind));
  const app = await createApp(testConfig({ ...database.env, ...env }), deps);
  const url = await app.listen(0, '127.0.0.1');
  const api = new Api(url);
  const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
  if (login.status !== 200) throw new Error(`admin login failed: ${login.status} ${JSON.stringify(login.body)}`);
  return {
    app,
    url,
    api,
    db: database,
    adminToken: login.body.token,
    async close() {
      await app.close();
      if (!db) await database.drop();
    },
  };
}
