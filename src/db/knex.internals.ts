import type { Orm } from './orm';

/**
 * The parts of knex's `Client` that EchoCenter uses and knex does not document (pinned: knex 3.2.10,
 * the version `@mikro-orm/knex` 6.6.16 depends on). Everything that touches them is in this file.
 *
 * They give a caller a driver connection of its own: one taken from the pool and held (the message
 * log's INSERT on SQLite, the append lock on PostgreSQL), or one outside the pool (the SQLite
 * checkpointer's, on its own driver thread). The public `knex.raw` takes a pooled connection per
 * statement and runs knex's query runner around it, which cost more than the INSERT itself.
 */
interface KnexClientInternals {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): unknown;
  acquireRawConnection(): Promise<unknown>;
  destroyRawConnection(connection: unknown): Promise<void>;
}

const METHODS = ['acquireConnection', 'releaseConnection', 'acquireRawConnection', 'destroyRawConnection'] as const;

/** knex's client under MikroORM's connection (public MikroORM API up to `client`). */
export function knexClientOf(orm: Orm): unknown {
  return orm.em.getConnection().getKnex().client;
}

/** What of the relied-on shape is missing from `client` (`undefined`: nothing). */
export function knexClientMismatch(client: unknown): string | undefined {
  if (!client || typeof client !== 'object') return 'knex has no client object';
  const missing = METHODS.filter((m) => typeof (client as Record<string, unknown>)[m] !== 'function');
  return missing.length ? `knex's client lacks ${missing.join(', ')}` : undefined;
}

/** Takes a connection from knex's pool; give it back with `releasePooled`. Only after the probe. */
export function acquirePooled(client: unknown): Promise<unknown> {
  return (client as KnexClientInternals).acquireConnection();
}

export async function releasePooled(client: unknown, connection: unknown): Promise<void> {
  await (client as KnexClientInternals).releaseConnection(connection);
}

/** Opens a connection outside knex's pool (no pool hooks run on it); close it with `destroyRaw`. */
export function acquireRaw(client: unknown): Promise<unknown> {
  return (client as KnexClientInternals).acquireRawConnection();
}

export function destroyRaw(client: unknown, connection: unknown): Promise<void> {
  return (client as KnexClientInternals).destroyRawConnection(connection);
}
