/**
 * pg's `Client.query` (pinned: pg 8.20.0) used on a connection that knex's pool opened: knex's
 * PostgreSQL connections are `pg.Client` objects, which knex does not promise. Everything that
 * relies on that is in this file.
 */
interface PgClient {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/** What of the relied-on shape `connection` lacks (`undefined`: nothing). */
export function pgConnectionMismatch(connection: unknown): string | undefined {
  if (!connection || typeof (connection as Record<string, unknown>).query !== 'function') return "knex's PostgreSQL connection has no query(text, values)";
  return undefined;
}

/** Runs SQL with `?` placeholders (numbered for pg here) on a pg Client; its rows. */
export async function pgQuery<Row>(connection: unknown, sql: string, params: unknown[]): Promise<Row[]> {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  return (await (connection as PgClient).query(text, params)).rows as Row[];
}
