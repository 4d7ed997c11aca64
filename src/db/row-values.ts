/**
 * A datetime column of a row read with hand-written SQL: SQLite keeps epoch milliseconds, the
 * PostgreSQL driver (as MikroORM sets it up) returns text. Null stays null.
 */
export function dateOf(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) return new Date(Number(value));
  return new Date(String(value).replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
}
