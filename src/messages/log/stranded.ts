import type { Orm } from '../../db/orm';
import type { GroupPublisher, Redeliver, Stranded } from './log.types';
import { fromRow, rawRows } from './rows';

/** Rows read per page when stranded rows are looked up (also the replay page, see the façade). */
export const PAGE_SIZE = 500;
/** How soon a group whose messages stayed behind the published mark has them swept. */
const SWEEP_DELAY_MS = 1_000;
/**
 * How often an idle replica sweeps: stranded rows otherwise wait for the next group anywhere, and
 * after a replica dies in a quiet moment their targets on other replicas would wait for traffic.
 */
const IDLE_SWEEP_MS = 5_000;

/**
 * Stranded-group recovery, several replicas on PostgreSQL: rows between the published mark and a
 * group's first id were committed by a replica that did not live (or reach Redis) to publish them.
 * They are delivered, from their rows, before the group's own; or by a sweep when no group follows.
 */
export class StrandedRecovery {
  private sweepTimer?: NodeJS.Timeout;
  private readonly idleSweeps: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly orm: Orm,
    private readonly postgres: boolean,
    readonly publisher: GroupPublisher,
    private readonly redeliver: Redeliver,
    /** Runs under the append lock, in turn with the groups. */
    private readonly inOrder: (work: () => Promise<void>) => Promise<void>,
    /** When this replica last committed a group. */
    lastGroupAt: () => number,
  ) {
    this.idleSweeps = setInterval(() => {
      if (Date.now() - lastGroupAt() >= IDLE_SWEEP_MS) void this.publishStranded().catch(() => undefined);
    }, IDLE_SWEEP_MS);
    this.idleSweeps.unref();
  }

  /** Stops the sweeps (the database and Redis are closing). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.sweepTimer);
    clearInterval(this.idleSweeps);
  }

  /** Sweeps after a group that left its messages behind the mark, in case no other group follows. */
  sweepSoon(): void {
    if (this.sweepTimer || this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.publishStranded().catch(() => this.sweepSoon());
    }, SWEEP_DELAY_MS);
    this.sweepTimer.unref();
  }

  /** Delivers what was committed and never published, without waiting for the next group. */
  async publishStranded(): Promise<void> {
    if (this.stopped) return;
    await this.inOrder(async () => {
      const mark = await this.publisher.readMark();
      if (mark === undefined) return;
      const stranded = await this.prepare(mark);
      if (stranded.length) await this.publisher.publishGroup(() => stranded.forEach((s) => s.deliver()), stranded[stranded.length - 1].lastId);
    });
  }

  /**
   * Prepares the delivery, oldest first, of committed rows between the published mark and `before`
   * (or the end of the log): what a replica stored and did not live (or reach Redis) to publish.
   */
  async prepare(mark: number | undefined, before?: number): Promise<Stranded[]> {
    if (mark === undefined) return [];
    const knex = this.orm.em.getConnection().getKnex();
    const prepared: Stranded[] = [];
    for (let cursor = mark; before === undefined || cursor < before - 1; ) {
      const result =
        before === undefined
          ? await knex.raw('select * from chat_messages where id > ? order by id limit ?', [cursor, PAGE_SIZE])
          : await knex.raw('select * from chat_messages where id > ? and id < ? order by id limit ?', [cursor, before, PAGE_SIZE]);
      const rows = rawRows(result, this.postgres).map(fromRow);
      if (!rows.length) break; // ids drawn and never stored: rolled back, or skipped as duplicates
      cursor = rows[rows.length - 1].id;
      prepared.push({ deliver: await this.redeliver(rows), lastId: cursor });
    }
    return prepared;
  }
}
