import type { Logger } from '../shared/logger';
import { isPostgres } from './dialect';
import { acquirePooled, acquireRaw, destroyRaw, knexClientMismatch, knexClientOf, releasePooled } from './knex.internals';
import type { Orm } from './orm';
import { pgConnectionMismatch, pgQuery } from './pg.internals';
import { sqliteAll, sqliteConnectionMismatch } from './sqlite3.internals';

/** A driver connection held by one caller: SQL with `?` placeholders, past knex's query runner. */
export interface DirectConnection {
  query<Row>(sql: string, params: unknown[]): Promise<Row[]>;
  /** Gives the connection back (to the pool, or closes one of its own). */
  release(): Promise<void>;
}

/**
 * Driver connections straight from knex (see `knex.internals.ts`): a tuning of the message log's
 * hot path and of the SQLite checkpointer. Without it (`probeDirectDriver` said no) both use the
 * public query path, and behave the same, only slower.
 */
export interface DirectDriver {
  /** Takes a connection from the pool (on SQLite the pool's only one) until it is released. */
  pooled(): Promise<DirectConnection>;
  /** Opens a connection outside the pool (no pool hooks, no pragmas) until it is released. */
  own(): Promise<DirectConnection>;
}

/**
 * Checks, once at start-up, the library shapes the direct path relies on (knex's client methods, the
 * pooled connection's query method, and that a query through it answers), so that a changed
 * dependency turns the tuning off instead of breaking the log. One warning says so.
 * `enabled: false` skips it (tests and benches of the public path).
 */
export async function probeDirectDriver(orm: Orm, log: Logger, enabled = true): Promise<DirectDriver | undefined> {
  if (!enabled) {
    log.info('direct database driver path off (asked): the message log uses the public query path');
    return undefined;
  }
  const postgres = isPostgres(orm.em.getPlatform());
  const client = knexClientOf(orm);
  const reason = await shapeMismatch(client, postgres).catch((err: unknown) => `probe query failed: ${err instanceof Error ? err.message : String(err)}`);
  if (reason) {
    log.warn({ reason }, 'database driver internals differ from the pinned versions: the message log and checkpointer use the public query path (slower)');
    return undefined;
  }
  return directDriver(client, postgres);
}

/** The first difference from the relied-on shapes, or `undefined`. */
async function shapeMismatch(client: unknown, postgres: boolean): Promise<string | undefined> {
  const knexReason = knexClientMismatch(client);
  if (knexReason) return knexReason;
  const connection = await acquirePooled(client);
  try {
    const connReason = postgres ? pgConnectionMismatch(connection) : sqliteConnectionMismatch(connection);
    if (connReason) return connReason;
    const rows = await run<{ one: unknown }>(postgres, connection, postgres ? 'select ?::int as one' : 'select ? as one', [1]);
    return Array.isArray(rows) && rows.length === 1 && Number(rows[0].one) === 1 ? undefined : `a probe query answered ${JSON.stringify(rows)}`;
  } finally {
    await releasePooled(client, connection);
  }
}

function run<Row>(postgres: boolean, connection: unknown, sql: string, params: unknown[]): Promise<Row[]> {
  return postgres ? pgQuery<Row>(connection, sql, params) : sqliteAll<Row>(connection, sql, params);
}

function directDriver(client: unknown, postgres: boolean): DirectDriver {
  const wrap = (connection: unknown, release: () => Promise<void>): DirectConnection => ({
    query: (sql, params) => run(postgres, connection, sql, params),
    release,
  });
  return {
    async pooled() {
      const connection = await acquirePooled(client);
      return wrap(connection, () => releasePooled(client, connection));
    },
    async own() {
      const connection = await acquireRaw(client);
      return wrap(connection, () => destroyRaw(client, connection));
    },
  };
}
