/**
 * node-sqlite3's callback API (pinned: sqlite3 5.1.7, the version `@mikro-orm/sqlite` 6.6.16 depends
 * on) used on a connection that knex opened: knex's SQLite connections are `sqlite3.Database`
 * objects, which knex does not promise. Everything that relies on that is in this file.
 */
interface SqliteDatabase {
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: unknown[]) => void): void;
}

/** What of the relied-on shape `connection` lacks (`undefined`: nothing). */
export function sqliteConnectionMismatch(connection: unknown): string | undefined {
  if (!connection || typeof (connection as Record<string, unknown>).all !== 'function') return "knex's SQLite connection has no all(sql, params, callback)";
  return undefined;
}

/** Runs SQL with `?` placeholders on a node-sqlite3 Database; its rows. */
export function sqliteAll<Row>(connection: unknown, sql: string, params: unknown[]): Promise<Row[]> {
  return new Promise((resolve, reject) =>
    (connection as SqliteDatabase).all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as Row[]))),
  );
}
