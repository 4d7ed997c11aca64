import { createApp, type App, type AppDeps } from '../../src/app';
import { createDb, redisUrl, type DbKind, type TestDb } from './database';
import { RestClient } from './rest-client';
import { testConfig } from './test-config';

export interface TestAppOptions {
  /** A kind gets a fresh database, dropped on close; a given TestDb is shared and left in place. Default: SQLite. */
  db?: DbKind | TestDb;
  /** Environment overrides on top of the test configuration and the database's entries. */
  env?: Record<string, string>;
  /** App dependencies (a clock, a logger, an LLM client…). */
  deps?: AppDeps;
  /** Joins a Redis-backed group of apps: REDIS_URL (default: the suite's) and this key prefix. */
  redis?: { prefix: string; url?: string };
  /** Logs in the bootstrap admin (`admin` / `admin123`) for `adminToken`. Default: true. */
  login?: boolean;
}

export interface TestApp {
  app: App;
  url: string;
  api: RestClient;
  db: TestDb;
  /** A JWT of the bootstrap admin (a test may replace it); throws when started with `login: false`. */
  adminToken: string;
  close(): Promise<void>;
}

/** Starts the real app on port 0 (127.0.0.1) against a fresh or given database. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const given = typeof options.db === 'object' ? options.db : undefined;
  const database = given ?? (await createDb((options.db as DbKind | undefined) ?? 'sqlite'));
  const redis = options.redis ? { REDIS_URL: options.redis.url ?? required(redisUrl, 'REDIS_URL'), REDIS_KEY_PREFIX: options.redis.prefix } : {};
  const app = await createApp(testConfig({ ...database.env, ...redis, ...options.env }), options.deps ?? {});
  const url = await app.listen(0, '127.0.0.1');
  const api = new RestClient(url);
  let adminToken: string | undefined;
  if (options.login ?? true) {
    const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    if (login.status !== 200) throw new Error(`admin login failed: ${login.status} ${JSON.stringify(login.body)}`);
    adminToken = login.body.token;
  }
  return {
    app,
    url,
    api,
    db: database,
    get adminToken(): string {
      if (adminToken === undefined) throw new Error('this test app was started with login: false');
      return adminToken;
    },
    set adminToken(token: string) {
      adminToken = token;
    },
    async close() {
      await app.close();
      if (!given) await database.drop();
    },
  };
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
