import type { Knex } from '@mikro-orm/knex';
import type { DirectConnection, DirectDriver } from '../../db/direct-driver';
import type { Orm } from '../../db/orm';
import type { Clock } from '../../shared/clock';
import type { StoredType } from '../chat-message.entity';
import { matchInserted, resolveDuplicates } from './idempotency';
import { insertStatement, type InsertedRow } from './insert-sql';
import type { LogFaults } from './log-faults';
import type { NewMessage, Outcome, Pending } from './log.types';
import { rawRows, toMessage } from './rows';

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/**
 * Stores commit groups: one statement per group, and failure isolation (a group that fails as a
 * whole is stored message by message, so one bad row costs its neighbours nothing).
 *
 * The caller makes it the table's only writer while a group is stored (SQLite's one connection; the
 * append lock on PostgreSQL): that is what lets the ids come back in VALUES order.
 */
export class GroupWriter {
  /** When this replica last committed a group (a busy replica needs no idle sweep). */
  lastGroupAt = 0;

  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly postgres: boolean,
    private readonly onStored: (type: StoredType) => void,
    private readonly faults: LogFaults,
    /** The driver straight, when the start-up probe allowed it; otherwise the public `knex.raw`. */
    private readonly driver?: DirectDriver,
  ) {}

  /**
   * Commits a group and, if it fails as a whole, each of its messages on its own. Never rejects: a
   * message that could not be stored gets its error. `conn` is the append lock's connection, if any.
   */
  async store(batch: Pending[], conn?: DirectConnection): Promise<Outcome[]> {
    let results: Outcome[];
    try {
      results = await this.commit(batch.map((p) => p.input), conn);
    } catch (err) {
      if (batch.length === 1) return [asError(err)];
      results = [];
      for (const p of batch) results.push(...(await this.commit([p.input], conn).catch((e: unknown) => [asError(e)])));
    }
    this.lastGroupAt = Date.now();
    try {
      await this.faults.afterCommit?.();
    } catch (err) {
      return batch.map(() => asError(err)); // stands for a replica that died here: nothing is delivered
    }
    return results;
  }

  /**
   * Stores the group with one statement (see `insertStatement`), which commits by itself (autocommit)
   * on both databases. One statement instead of BEGIN / look-up / INSERT / COMMIT: on SQLite each
   * statement is a hop to the driver's thread, and on PostgreSQL a round trip, so a small group cost
   * three times as much. A `local_id` already stored is skipped by the conflict clause and looked up
   * afterwards (its row is committed and never changes).
   */
  private async commit(inputs: NewMessage[], conn?: DirectConnection): Promise<Outcome[]> {
    const knex = this.orm.em.getConnection().getKnex();
    const now = this.clock.now();
    const messages = inputs.map((input) => toMessage(input, now));
    const { sql, params } = insertStatement(messages, now, this.postgres);
    const beforeCommit = this.faults.beforeCommit?.bind(this.faults);
    const rows = beforeCommit
      ? // Fault injection needs a moment between drawing the ids and making them visible.
        await knex.transaction(async (trx) => {
          const r = rawRows<InsertedRow>(await trx.raw(sql, params as Knex.RawBinding[]), this.postgres);
          await beforeCommit();
          return r;
        })
      : await this.insert(knex, sql, params, conn);
    const outcomes = await resolveDuplicates(knex, this.postgres, messages, matchInserted(messages, rows));
    for (const o of outcomes) if (!(o instanceof Error) && !o.duplicate) this.onStored(o.message.type);
    return outcomes;
  }

  /** Runs the INSERT straight on a driver connection when there is one: knex's runner (pool, bindings, events) cost more than the INSERT. */
  private async insert(knex: Knex, sql: string, params: unknown[], conn?: DirectConnection): Promise<InsertedRow[]> {
    if (conn) return conn.query<InsertedRow>(sql, params);
    if (!this.driver) return rawRows<InsertedRow>(await knex.raw(sql, params as Knex.RawBinding[]), this.postgres);
    const pooled = await this.driver.pooled();
    try {
      return await pooled.query<InsertedRow>(sql, params);
    } finally {
      await pooled.release();
    }
  }
}
