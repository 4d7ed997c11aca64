import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** A database that exists for one bench run only. */
export interface BenchDb {
  readonly kind: 'sqlite' | 'postgres';
  /** Environment entries that point EchoCenter at it. */
  readonly env: Record<string, string>;
  /** What to print (never a password). */
  readonly label: string;
  drop(): Promise<void>;
}

/** SQLite in a fresh temp directory (removed by `drop`), or a fresh PostgreSQL database next to DATABASE_URL's. */
export async function createBenchDb(kind: 'sqlite' | 'postgres'): Promise<BenchDb> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'echocenter-bench-'));
    return {
      kind,
      env: { DB_DRIVER: 'sqlite', SQLITE_PATH: join(dir, 'bench.db') },
      label: `sqlite (temp file in ${dir}, WAL)`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('--db postgres needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres); a fresh database is created next to it and dropped after');
  const name = `echocenter_bench_${randomBytes(6).toString('hex')}`;
  await admin(base, (c) => c.query(`create database "${name}"`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    kind,
    env: { DB_DRIVER: 'postgres', DATABASE_URL: url.toString() },
    label: `postgres (fresh database ${name} on ${url.hostname}:${url.port || 5432}, dropped after)`,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin(base, (c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

async function admin<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
