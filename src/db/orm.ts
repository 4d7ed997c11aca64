import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { SqliteDriver } from '@mikro-orm/sqlite';
import type { Config } from '../config/config';
import type { Logger } from '../shared/logger';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';

export type Orm = MikroORM<SqliteDriver> | MikroORM<PostgreSqlDriver>;

/** Any key will do as long as every replica uses the same one: it serializes migrations. */
const MIGRATION_LOCK_KEY = 7_391_004_221;

/**
 * SQLite pragmas for every connection: WAL, a busy timeout, foreign keys; no checkpoint inside a
 * commit (a `SqliteCheckpointer` does it from a connection of its own, see there).
 */
const SQLITE_PRAGMAS = [
  'PRAGMA journal_mode = WAL',
  'PRAGMA busy_timeout = 10000',
  'PRAGMA foreign_keys = ON',
  'PRAGMA synchronous = NORMAL',
  'PRAGMA wal_autocheckpoint = 0',
].join('; ');

/**
 * MikroORM options for the configured database; also what `mikro-orm.config.ts` exports to the CLI.
 * Only the configured driver is imported: each brings its own client library (knex dialect, `pg` or
 * `sqlite3`), and a replica that loads both keeps the unused one in memory for its whole life.
 */
export async function ormOptions(config: Config, logger?: Logger): Promise<Options> {
  const common: Options = {
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: false,
      snapshot: false,
      silent: true,
    },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    debug: false,
    logger: logger ? (msg) => logger.debug({ orm: msg }) : undefined,
  };
  if (config.db.driver === 'postgres') {
    const { PostgreSqlDriver } = await import('@mikro-orm/postgresql');
    return { ...common, driver: PostgreSqlDriver, clientUrl: config.db.databaseUrl, pool: { min: 0, max: config.db.poolMax } };
  }
  const { SqliteDriver } = await import('@mikro-orm/sqlite');
  return {
    ...common,
    driver: SqliteDriver,
    dbName: config.db.sqlitePath,
    // One connection: SQLite has one writer anyway, and a single connection means writes queue in
    // process instead of failing with SQLITE_BUSY. WAL lets readers of other processes go on.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: { exec(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) =>
        conn.exec(SQLITE_PRAGMAS, (err) => done(err, conn)),
    } as Options['pool'],
  };
}

/** Connects and runs pending migrations. */
export async function initOrm(config: Config, logger: Logger): Promise<Orm> {
  const orm = (await MikroORM.init(await ormOptions(config, logger))) as Orm;
  try {
    await migrate(orm, config, logger);
  } catch (err) {
    await orm.close(true);
    throw err;
  }
  return orm;
}

/**
 * Runs pending migrations, each in its own transaction. On PostgreSQL an advisory lock held by a
 * separate transaction makes replicas that start together take turns: the second finds nothing to do.
 */
export async function migrate(orm: Orm, config: Config, logger: Logger): Promise<string[]> {
  const run = async () => (await orm.getMigrator().up()).map((m) => m.name);
  let applied: string[];
  if (config.db.driver === 'postgres') {
    const knex = orm.em.getConnection().getKnex();
    applied = await knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
      return run();
    });
  } else {
    applied = await run();
  }
  if (applied.length) logger.info({ applied }, 'database migrations applied');
  return applied;
}
