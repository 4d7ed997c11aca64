import { isPostgres } from '../../db/dialect';
import type { DirectConnection, DirectDriver } from '../../db/direct-driver';
import type { Orm } from '../../db/orm';
import type { Clock } from '../../shared/clock';
import type { Role } from '../../users/user.entity';
import { ChatMessage, type StoredType } from '../chat-message.entity';
import { AppendLock } from './append-lock';
import { GroupWriter } from './group-writer';
import type { LogFaults } from './log-faults';
import { freshIds, settle, type Appended, type Deliver, type GroupPublisher, type NewMessage, type Outcome, type Pending, type Redeliver, type Stranded } from './log.types';
import { drainPipelined } from './sqlite-pipeline';
import { PAGE_SIZE, StrandedRecovery } from './stranded';

export type { Appended, Deliver, GroupPublisher, NewMessage, Redeliver } from './log.types';
export type { LogFaults } from './log-faults';

const MAX_BATCH = 256;

/** How many messages a replay reads per page (and `visibleAfter`'s default limit). */
export const REPLAY_PAGE_SIZE = PAGE_SIZE;

/** How the log is built beyond its collaborators (all optional; production passes the driver only). */
export interface MessageLogOptions {
  /** Fault injection (tests); see LogFaults. */
  faults?: LogFaults;
  /** The database driver straight, when the start-up probe allowed it (see `probeDirectDriver`). */
  driver?: DirectDriver;
}

/**
 * The message log: every stored CHAT, AUTH_REQUEST and AUTH_STATUS_UPDATE.
 *
 * Appends are committed in groups: while one group commits (one statement), new appends queue up and go into
 * the next one, so concurrent senders share commits instead of paying one each. Each caller's promise
 * resolves only after its group has committed, which keeps persist-before-emit; a caller that awaits
 * one append before the next keeps its order.
 *
 * Ids must become visible in id order, or a replay reader asking for "after N" could skip a smaller
 * id that commits late; and clients must receive them in id order, or a `last_id` cursor could
 * skip one still in flight. SQLite has one connection and so one writer (see `drainPipelined`); on
 * PostgreSQL the append lock spans commit and publish (see AppendLock), so groups from every replica
 * commit and go out in the order their ids were drawn.
 */
export class MessageLogService {
  private queue: Pending[] = [];
  private flushing = false;
  private readonly postgres: boolean;
  private readonly writer: GroupWriter;
  private readonly lock: AppendLock;
  /** How a group's deliveries are published with Redis (see `setPublisher`). */
  private publisher?: GroupPublisher;
  private recovery?: StrandedRecovery;
  /** Resolves when the deliveries of a group have left this replica (the Redis PUBLISH replies). */
  private delivered: () => Promise<void> = async () => undefined;
  /** Resolves when this replica's own sockets have a group's messages (with Redis: read back). */
  private seen: (lastId: number) => Promise<void> = async () => undefined;
  /** The settling of the groups before, so that appends resolve in group order. */
  private settling: Promise<void> = Promise.resolve();

  constructor(
    private readonly orm: Orm,
    clock: Clock,
    onStored: (type: StoredType) => void = () => undefined,
    options: MessageLogOptions = {},
  ) {
    this.postgres = isPostgres(orm.em.getPlatform());
    this.writer = new GroupWriter(orm, clock, this.postgres, onStored, options.faults ?? {}, options.driver);
    this.lock = new AppendLock(orm, options.driver);
  }

  /**
   * Makes each group wait for its deliveries to be published before the next group commits, and
   * its appends resolve only once `seen` says this replica's sockets have them: outside the append
   * lock, so that the cluster does not wait for a replica to read its own group back.
   */
  setDeliveryBarrier(delivered: () => Promise<void>, seen?: (lastId: number) => Promise<void>): void {
    this.delivered = delivered;
    if (seen) this.seen = seen;
  }

  /**
   * With Redis: each group's broadcasts go out together, as one unit with the mark of its last id, so
   * that a publish retried after a lost reply is not sent twice (see GroupPublisher).
   */
  setPublisher(publisher: GroupPublisher): void {
    this.publisher = publisher;
  }

  /**
   * Several replicas on PostgreSQL: each group, under the append lock, reads how far the log was
   * published; rows between that mark and its own first id were committed by a replica that did not
   * live to publish them, and are delivered (from their rows) before the group's own, and published
   * with them and the mark moved to the group's last id, as one unit.
   */
  setRecovery(publisher: GroupPublisher, redeliver: Redeliver): void {
    this.publisher = publisher;
    this.recovery = new StrandedRecovery(this.orm, this.postgres, publisher, redeliver, (work) => this.inOrder(work), () => this.writer.lastGroupAt);
  }

  /**
   * Stores a message. `deliver` runs after the commit and before the promise resolves, in id order
   * with every other delivery (a duplicate `local_id` is passed too, flagged, and should not be sent).
   */
  append(input: NewMessage, deliver?: Deliver): Promise<Appended> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, deliver, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  /** Stops the sweeps and gives back the lock's connection (the database and Redis are closing). */
  async close(): Promise<void> {
    this.recovery?.stop();
    this.recovery = undefined;
    await this.lock.close();
  }

  /** Whether a group is being committed or delivered, or appends wait (the append lock may be held). */
  get busy(): boolean {
    return this.flushing || this.queue.length > 0;
  }

  /** Resolves once everything queued so far is committed and settled (used by shutdown). */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise((r) => setTimeout(r, 5));
    await this.settling;
  }

  /**
   * Delivers what was committed and never published (see `setRecovery`) without waiting for the next
   * group: called when this replica's Redis connections are back after an outage.
   */
  async publishStranded(): Promise<void> {
    await this.recovery?.publishStranded();
  }

  /**
   * Stored messages visible to a user with an id above `afterId`, ascending (PROTOCOL §5): addressed
   * to them, sent by them, broadcasts, and (for admins) the Butler's authorization traffic.
   */
  async visibleAfter(user: { id: number; role: Role }, afterId: number, limit = REPLAY_PAGE_SIZE): Promise<ChatMessage[]> {
    const em = this.orm.em.fork();
    const or: object[] = [{ targetId: user.id }, { senderId: user.id }, { targetId: null }];
    if (user.role === 'ADMIN') or.push({ audience: 'ADMINS' });
    return em.find(ChatMessage, { id: { $gt: afterId }, $or: or }, { orderBy: { id: 'asc' }, limit });
  }

  /** The newest message id (0 for an empty log). */
  async lastId(): Promise<number> {
    const em = this.orm.em.fork();
    const [row] = await em.find(ChatMessage, {}, { orderBy: { id: 'desc' }, limit: 1, fields: ['id'] });
    return row?.id ?? 0;
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      if (!this.postgres) {
        await drainPipelined(
          this.queue,
          MAX_BATCH,
          (batch) => this.writer.store(batch),
          (batch, results, last) => this.deliverAll(batch, results, [], last),
          (batch, results) => this.settleWhenSeen(batch, results),
        );
      } else {
        while (this.queue.length) {
          const batch = this.queue.splice(0, MAX_BATCH);
          if (await this.commitGroup(batch)) continue;
          // The append lock could not be taken (its connection failed): each message tries again.
          if (batch.length > 1) for (const p of batch) await this.commitGroup([p]);
        }
      }
    } finally {
      this.flushing = false;
      // An append made by a delivery's reaction after the loop's last look at the queue.
      if (this.queue.length) void this.drain();
    }
  }

  /** Runs work in turn with the groups: under the append lock on PostgreSQL, at once on SQLite. */
  private inOrder<T>(work: (conn?: DirectConnection) => Promise<T>): Promise<T> {
    return this.postgres ? this.lock.run(work) : work();
  }

  /**
   * Commits and delivers one group under the append lock (see GroupWriter.store for a group that
   * fails); false (with nobody settled) when the lock could not be had.
   */
  private async commitGroup(batch: Pending[]): Promise<boolean> {
    let results: Outcome[];
    try {
      results = await this.inOrder(async (conn) => {
        const recovery = this.recovery;
        const markRead = recovery?.publisher.readMark().then(
          (value) => ({ value }),
          () => undefined,
        );
        const r = await this.writer.store(batch, conn);
        const ids = freshIds(r);
        const span = ids.length ? { first: ids[0], last: ids[ids.length - 1] } : undefined;
        // The group is committed now: a mark that cannot be read, or a failed look-up, must not fail
        // it. Its messages then stay behind the mark (which only moves past ids that were checked),
        // for the next group or a sweep to deliver in order, rather than out of order now.
        let stranded: Stranded[] | null = [];
        if (markRead && span) {
          const mark = await markRead;
          stranded = mark ? await recovery!.prepare(mark.value, span.first).catch(() => null) : null;
        }
        // A delivery fault must not undo a commit (nor look like a failed one, which is retried).
        await this.deliverAll(batch, r, stranded, span?.last).catch(() => undefined);
        return r;
      });
    } catch (err) {
      // After the groups before it, like every outcome: a socket's acks keep its order.
      const failed = batch[0];
      if (batch.length === 1) this.settling = this.settling.then(() => failed.reject(err));
      return batch.length === 1;
    }
    this.settleWhenSeen(batch, results);
    return true;
  }

  /**
   * Resolves a delivered group's appends once this replica's sockets have its messages, after the
   * groups before it: a sender's next step (its ack, a CHAT_STREAM_END) never overtakes them.
   */
  private settleWhenSeen(batch: Pending[], results: Outcome[]): void {
    const ids = freshIds(results);
    const last = ids[ids.length - 1];
    const seen = last === undefined ? undefined : this.seen(last).catch(() => undefined);
    this.settling = Promise.all([this.settling, seen]).then(() => settle(batch, results));
  }

  /** Delivers the group (after any stranded rows); `last` is its highest new id, if it stored any. */
  private async deliverAll(batch: Pending[], results: Outcome[], stranded: Stranded[] | null, last: number | undefined): Promise<void> {
    const deliver = () => {
      for (const s of stranded ?? []) s.deliver();
      batch.forEach((p, i) => {
        const r = results[i];
        if (r instanceof Error) return;
        try {
          p.deliver?.(r);
        } catch {
          // a delivery fault must not undo a commit; the message is stored and reachable by replay
        }
      });
    };
    if (!this.publisher || last === undefined) deliver();
    else if (stranded) await this.publisher.publishGroup(deliver, last);
    else {
      await this.publisher.publishGroup(deliver, null);
      this.recovery?.sweepSoon();
    }
    await this.delivered();
  }
}
