import { MikroORM } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { createApp } from '../../src/app';
import { migrate, ormOptions, type Orm } from '../../src/db/orm';
import { ENTITIES } from '../../src/entities';
import { createLogger } from '../../src/shared/logger';
import { MIGRATIONS } from '../../migrations';
import { MIGRATION_NAMES } from '../../migrations/names';
import { createDb, type DbKind, dbKinds, startTestApp, testConfig, warnIfPostgresSkipped } from '../support';

/** Every entity's table plus the migrations table: what an empty database must have after migrating. */
function expectedTables(orm: Orm | MikroORM): string[] {
  const entityTables = Object.values(orm.getMetadata().getAll())
    .filter((meta) => !meta.embeddable && !meta.virtual)
    .map((meta) => meta.tableName);
  expect(entityTables).toEqual(expect.arrayContaining(['users', 'human_credentials', 'machine_credentials', 'chat_messages', 'system_logs']));
  return [...new Set([...entityTables, 'mikro_orm_migrations'])].sort();
}

async function tablesOf(kind: DbKind, execute: (sql: string) => Promise<{ name: string }[]>): Promise<string[]> {
  const sql =
    kind === 'sqlite'
      ? "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
      : "select table_name as name from information_schema.tables where table_schema = 'public'";
  return (await execute(sql)).map((r) => r.name).sort();
}

describe.each(dbKinds())('migrations on %s', (kind) => {
  beforeAll(() => warnIfPostgresSkipped('migrations'));

  it('name every migration in migrations/names.ts, in order (the server skips the migrator when all are applied)', () => {
    expect(MIGRATION_NAMES).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('take an empty database to the current schema, with nothing left to generate', async () => {
    const s = await startTestApp({ db: kind, login: false });
    try {
      const conn = s.app.orm.em.getConnection();
      expect(await tablesOf(kind, (sql) => conn.execute(sql))).toEqual(expectedTables(s.app.orm));

      const migrator = s.app.orm.getMigrator();
      expect((await migrator.getExecutedMigrations()).map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
      expect(await migrator.getPendingMigrations()).toEqual([]);

      // The entities and the migration SQL agree: the schema generator has no diff to offer.
      expect(await s.app.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false })).toBe('');
      expect(await migrator.checkMigrationNeeded()).toBe(false);

      // And the app works on it.
      expect((await s.api.get('/readyz')).status).toBe(200);
      expect((await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('run each migration in its own transaction: a failing one leaves no trace and is not recorded', async () => {
    const db = await createDb(kind);
    const config = testConfig(db.env);
    const options = await ormOptions(config, ENTITIES);
    class Broken extends Migration {
      override async up(): Promise<void> {
        this.addSql('create table half_done (id integer primary key);');
        this.addSql('insert into no_such_table values (1);');
      }
    }
    const orm = await MikroORM.init({
      ...options,
      migrations: { ...options.migrations, migrationsList: [...MIGRATIONS, { name: 'Migration29990101000000Broken', class: Broken }] },
    });
    try {
      await expect(migrate(orm as Orm, config, createLogger('silent'))).rejects.toThrow();
      const conn = orm.em.getConnection();
      const tables = await tablesOf(kind, (sql) => conn.execute(sql));
      expect(tables).toEqual(expectedTables(orm));
      expect((await orm.getMigrator().getExecutedMigrations()).map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
    } finally {
      await orm.close(true);
      await db.drop();
    }
  });

  it('apply nothing on a second start and keep the data and the bootstrap users as they were', async () => {
    const db = await createDb(kind);
    try {
      const first = await startTestApp({ db, login: false });
      const token = (await first.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.token;
      expect((await first.api.post('/api/users', { username: 'survivor', password: 'password123', role: 'MEMBER' }, token)).status).toBe(201);
      const before = (await first.api.get('/api/users', token)).body;
      await first.close();

      const app = await createApp(testConfig({ ...db.env, ADMIN_PASSWORD: 'a-different-password' }));
      try {
        expect(await migrate(app.orm, app.config, createLogger('silent'))).toEqual([]);
        const url = await app.listen(0, '127.0.0.1');
        // The bootstrap admin is created once: a changed ADMIN_PASSWORD does not reset it.
        const login = await fetch(`${url}/api/auth/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: 'admin123' }),
        });
        expect(login.status).toBe(200);
        const { token: again } = (await login.json()) as { token: string };
        const after = await (await fetch(`${url}/api/users`, { headers: { Authorization: `Bearer ${again}` } })).json();
        expect(after).toEqual(before);
      } finally {
        await app.close();
      }
    } finally {
      await db.drop();
    }
  });
});
