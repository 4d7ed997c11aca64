import { MikroORM, type Options } from '@mikro-orm/core';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { SqliteDriver } from '@mikro-orm/sqlite';
import type { Config } from '../config/config';
import type { Logger } from '../shared/logger';
import { MIGRATION_NAMES } from '../../migrations/names';

export type Orm = MikroORM<SqliteDriver> | MikroORM<PostgreSqlDriver>;

/** The entities the ORM maps: `ENTITIES` of `src/entities.ts`, passed in by whoever opens the database. */
export type EntityList = NonNullable<Options['entities']>;

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

const MIGRATION_OPTIONS = {
  tableName: 'mikro_orm_migrations',
  transactional: true,
  allOrNothing: false,
  snapshot: false,
  silent: true,
};

/** MikroORM options with the migrator and every migration: what `mikro-orm.config.ts` exports to the CLI. */
export async function ormOptions(config: Config, entities: EntityList, logger?: Logger): Promise<Options> {
  const { Migrator, MIGRATIONS } = await loadMigrator();
  return { ...(await connectionOptions(config, entities, logger)), extensions: [Migrator], migrations: { ...MIGRATION_OPTIONS, migrationsList: MIGRATIONS } };
}

/**
 * MikroORM options for the configured database, without the migrator (see `initOrm`).
 * Only the configured driver is imported: each brings its own client library (knex dialect, `pg` or
 * `sqlite3`), and a replica that loads both keeps the unused one in memory for its whole life.
 */
async function connectionOptions(config: Config, entities: EntityList, logger?: Logger): Promise<Options> {
  const common: Options = {
    entities,
    migrations: MIGRATION_OPTIONS,
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

/**
 * Connects and runs pending migrations. The migrator is loaded only when the database lacks one of
 * them (see `migrations/names.ts`); a database that is current needs one SELECT.
 */
export async function initOrm(config: Config, logger: Logger, entities: EntityList): Promise<Orm> {
  const orm = (await MikroORM.init(await connectionOptions(config, entities, logger))) as Orm;
  try {
    if (await migrationsMissing(orm)) await migrate(orm, config, logger);
  } catch (err) {
    await orm.close(true);
    throw err;
  }
  return orm;
}

/** Whether a migration is not recorded as applied; a database without the migrations table lacks them all. */
async function migrationsMissing(orm: Orm): Promise<boolean> {
  let rows: { name: string }[];
  try {
    rows = await orm.em.getConnection().execute(`select name from ${MIGRATION_OPTIONS.tableName}`);
  } catch {
    return true;
  }
  const applied = new Set(rows.map((r) => r.name));
  return MIGRATION_NAMES.some((name) => !applied.has(name));
}

/**
 * Runs pending migrations, each in its own transaction. On PostgreSQL an advisory lock held by a
 * separate transaction makes replicas that start together take turns: the second finds nothing to do.
 */
export async function migrate(orm: Orm, config: Config, logger: Logger): Promise<string[]> {
  await withMigrator(orm);
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

/** The migrator and every migration, imported only when they are needed. */
async function loadMigrator() {
  const [{ Migrator }, { MIGRATIONS }] = await Promise.all([import('@mikro-orm/migrations'), import('../../migrations')]);
  return { Migrator, MIGRATIONS };
}

/** Registers the migrator with every migration, unless the ORM was made with one (`ormOptions`, tests). */
async function withMigrator(orm: Orm): Promise<void> {
  const settings = (orm as MikroORM).config;
  if (settings.getExtension('@mikro-orm/migrator')) return;
  const { Migrator, MIGRATIONS } = await loadMigrator();
  settings.set('migrations', { ...settings.get('migrations'), migrationsList: MIGRATIONS });
  Migrator.register(orm as MikroORM);
}
