import type { DirectConnection, DirectDriver } from '../../db/direct-driver';
import type { Orm } from '../../db/orm';

/** Serializes message-log groups across replicas on PostgreSQL (any key, the same on every replica). */
const APPEND_LOCK_KEY = 7_391_004_222;

/**
 * The cluster-wide append lock on PostgreSQL: a group's commit-then-publish runs while holding it, so
 * that groups from all replicas commit *and* are published in id order. (SQLite has one connection
 * and one replica: the drain loop is the lock, and this class is not used.)
 *
 * With the direct driver the lock is a session advisory lock on a connection the log keeps for
 * itself, and the group's INSERT runs on it too: no pool round trip per group, and the UNLOCK is not
 * waited for, since the next group's LOCK on the same connection is sent after it. A connection that
 * fails is dropped (its session lock with it).
 *
 * Without it (public path) each group holds a transaction-level advisory lock in a transaction of
 * its own, committed once the group's INSERT has committed (on another pooled connection) and its
 * publish has been answered: two more round trips per group, the same order.
 */
export class AppendLock {
  private held?: Promise<DirectConnection>;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly orm: Orm,
    private readonly driver?: DirectDriver,
  ) {}

  /** Runs `group` under the lock; `conn` is the lock's connection when the group may use it. */
  run<T>(group: (conn?: DirectConnection) => Promise<T>): Promise<T> {
    // A session advisory lock is re-entrant: callers of this replica (the drain loop, a sweep) that
    // share the connection must also take turns here.
    const driver = this.driver;
    const run = this.turn.then(() => (driver ? this.onOwnConnection(driver, group) : this.inTransaction(group)));
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Gives back the lock's connection (the database is closing). */
  async close(): Promise<void> {
    const conn = this.held;
    this.held = undefined;
    if (conn) await conn.then((c) => c.release()).catch(() => undefined);
  }

  private async onOwnConnection<T>(driver: DirectDriver, group: (conn?: DirectConnection) => Promise<T>): Promise<T> {
    const conn = (this.held ??= driver.pooled());
    let held: DirectConnection;
    try {
      held = await conn;
      await held.query('select pg_advisory_lock(?)', [APPEND_LOCK_KEY]);
    } catch (err) {
      this.drop(conn);
      throw err;
    }
    try {
      return await group(held);
    } finally {
      // Never let a failed unlock look like a failed commit (a retry would store twice).
      void held.query('select pg_advisory_unlock(?)', [APPEND_LOCK_KEY]).catch(() => this.drop(conn));
    }
  }

  private async inTransaction<T>(group: (conn?: DirectConnection) => Promise<T>): Promise<T> {
    const trx = await this.orm.em.getConnection().getKnex().transaction();
    try {
      await trx.raw('select pg_advisory_xact_lock(?)', [APPEND_LOCK_KEY]);
    } catch (err) {
      await trx.rollback().catch(() => undefined);
      throw err;
    }
    try {
      return await group();
    } finally {
      // As above: a failed COMMIT of the lock's transaction must not look like a failed group.
      await trx.commit().catch(() => undefined);
    }
  }

  private drop(conn: Promise<DirectConnection>): void {
    if (this.held !== conn) return;
    this.held = undefined;
    void conn.then((c) => c.release()).catch(() => undefined);
  }
}
