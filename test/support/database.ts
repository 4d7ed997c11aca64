/**
 * Fresh databases for tests (SQLite in a temp dir, or a new PostgreSQL database next to the one
 * DATABASE_URL names) and the Redis a suite may share (REDIS_URL, a unique key prefix per app group).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** A fresh database for one test app: a temp SQLite file, or a new PostgreSQL database. */
export interface TestDb {
  readonly kind: 'sqlite' | 'postgres';
  /** Environment entries that point the app at this database. */
  readonly env: Record<string, string>;
  drop(): Promise<void>;
}

/** The PostgreSQL server the suites use when set; the PostgreSQL variants skip otherwise. */
export const postgresUrl = process.env.DATABASE_URL;

/** The Redis server the multi-replica suites use when set. */
export const redisUrl = process.env.REDIS_URL;

/** A key prefix no other app group uses, so suites sharing one Redis do not hear each other. */
export function newRedisPrefix(): string {
  return `ectest-${randomBytes(4).toString('hex')}`;
}

/** A temp directory with an empty SQLite file path; `drop()` removes the directory. */
export function sqliteDb(): TestDb {
  const dir = mkdtempSync(join(tmpdir(), 'echocenter-test-'));
  return {
    kind: 'sqlite',
    env: { DB_DRIVER: 'sqlite', SQLITE_PATH: join(dir, 'test.db') },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Creates `echocenter_test_<random>` next to the database DATABASE_URL names; dropped by `drop()`. */
export async function postgresDb(): Promise<TestDb> {
  if (!postgresUrl) throw new Error('DATABASE_URL is not set');
  const name = `echocenter_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create database "${name}"`));
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    env: { DB_DRIVER: 'postgres', DATABASE_URL: url.toString() },
    drop: () => withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}

async function withAdmin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export type DbKind = TestDb['kind'];

/** The databases a suite runs on: SQLite always, PostgreSQL when DATABASE_URL is set. */
export function dbKinds(): DbKind[] {
  return postgresUrl ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A fresh database of `kind`. */
export function createDb(kind: DbKind): Promise<TestDb> {
  return kind === 'sqlite' ? Promise.resolve(sqliteDb()) : postgresDb();
}

let warned = false;
/** Says once per file that the PostgreSQL variant was skipped, so a green run cannot hide it. */
export function warnIfPostgresSkipped(suite: string): void {
  if (!postgresUrl && !warned) {
    warned = true;
    // eslint-disable-next-line no-console
    console.warn(`[${suite}] PostgreSQL variant SKIPPED: set DATABASE_URL to run it`);
  }
}
