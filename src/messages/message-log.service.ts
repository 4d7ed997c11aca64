import type { Knex } from '@mikro-orm/knex';
import { isPostgres } from '../db/dialect';
import { dateOf } from '../db/row-values';
import type { Orm } from '../db/orm';
import type { Clock } from '../shared/clock';
import type { Role } from '../users/user.entity';
import { ChatMessage, type SenderRole, type StoredType } from './chat-message.entity';

/** A message to store; the log sets `id` and `createdAt`. */
export interface NewMessage {
  type: StoredType;
  localId?: string | null;
  senderId: number;
  senderName: string;
  senderRole: SenderRole;
  targetId: number | null;
  audience?: 'ADMINS' | null;
  /** JSON text of the payload. */
  payload: string;
  streamId?: string | null;
  replyTo?: number | null;
}

export interface Appended {
  message: ChatMessage;
  /** True when `localId` was already stored for this sender: nothing new was stored. */
  duplicate: boolean;
}

/** Called right after the commit, in id order, before the next group is delivered. */
export type Deliver = (appended: Appended) => void;

/**
 * How a group's deliveries leave this replica when several replicas share the log (PROTOCOL §5
 * across replicas): a replica that dies between its commit and its publish must not leave a hole
 * that later ids jump over. The bus keeps a mark of how far the log has been published.
 */
export interface GroupPublisher {
  /** The highest id whose group was published (`undefined`: unknown, nothing is checked; recovery only). */
  readMark(): Promise<number | undefined>;
  /**
   * Runs `deliver` and publishes everything it broadcasts together with the mark `lastId`, as one
   * unit; resolves when that is answered or has failed (failures are the bus's to handle). With
   * `null` (the gap below the group could not be checked) the stored messages are not published.
   */
  publishGroup(deliver: () => void, lastId: number | null): Promise<void>;
}

/**
 * Prepares the delivery of stored messages from their rows alone (look-ups may take time); the
 * returned function delivers them, in the order given (see `setRecovery`).
 */
export type Redeliver = (messages: ChatMessage[]) => Promise<() => void>;

interface Pending {
  input: NewMessage;
  deliver?: Deliver;
  resolve: (r: Appended) => void;
  reject: (e: unknown) => void;
}

const INSERT_SQL =
  'insert into chat_messages (local_id, type, sender_id, sender_name, sender_role, target_id, audience, payload, stream_id, reply_to, created_at) values';
const ON_CONFLICT_RETURNING = 'on conflict (sender_id, local_id) do nothing returning id, sender_id, local_id';

interface InsertedRow {
  id: number | string;
  sender_id: number | string;
  local_id: string | null;
}

/** Rows of other replicas' groups that were never published, ready to deliver. */
interface Stranded {
  deliver: () => void;
  lastId: number;
}

/** What one append came to: stored (or found stored before), or why not. */
type Outcome = Appended | Error;

/** Serializes message-log transactions across replicas on PostgreSQL (see `commit`). */
const APPEND_LOCK_KEY = 7_391_004_222;
const MAX_BATCH = 256;
const REPLAY_PAGE = 500;
/** How soon a group whose messages stayed behind the published mark has them swept. */
const SWEEP_DELAY_MS = 1_000;
/**
 * How often an idle replica sweeps: stranded rows otherwise wait for the next group anywhere, and
 * after a replica dies in a quiet moment their targets on other replicas would wait for traffic.
 */
const IDLE_SWEEP_MS = 5_000;

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
 * skip one still in flight. SQLite has one connection and so one writer; on PostgreSQL a session
 * advisory lock spans commit and publish (see `inOrder`), so groups from every replica commit and
 * go out in the order their ids were drawn.
 */
export class MessageLogService {
  private queue: Pending[] = [];
  private flushing = false;
  private readonly postgres: boolean;
  /** Fault injection for tests: runs inside the transaction, after the INSERT, before the COMMIT. */
  beforeCommit?: () => Promise<void>;
  /**
   * Fault injection for tests: runs after the commit, before the deliveries. A throw stands for a
   * replica that dies at that moment: the group is stored and never delivered by this replica.
   */
  afterCommit?: () => Promise<void>;
  /** How a group's deliveries are published with Redis (see `setPublisher`). */
  private publisher?: GroupPublisher;
  private recovery?: { publisher: GroupPublisher; redeliver: Redeliver };
  private sweepTimer?: NodeJS.Timeout;
  private idleSweeps?: NodeJS.Timeout;
  /** When this replica last committed a group (a busy replica needs no idle sweep). */
  private lastGroupAt = 0;
  /** The connection that holds the append lock on PostgreSQL (see `inOrder`). */
  private lockConn?: Promise<unknown>;
  private turn: Promise<unknown> = Promise.resolve();
  /** Resolves when the deliveries of a group have left this replica (the Redis PUBLISH replies). */
  private delivered: () => Promise<void> = async () => undefined;

  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly onStored: (type: StoredType) => void = () => undefined,
  ) {
    this.postgres = isPostgres(orm.em.getPlatform());
  }

  /** Makes each group wait for its deliveries to be published before the next group commits. */
  setDeliveryBarrier(delivered: () => Promise<void>): void {
    this.delivered = delivered;
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
    this.recovery = { publisher, redeliver };
    this.idleSweeps = setInterval(() => {
      if (Date.now() - this.lastGroupAt >= IDLE_SWEEP_MS) void this.publishStranded().catch(() => undefined);
    }, IDLE_SWEEP_MS);
    this.idleSweeps.unref();
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
    this.recovery = undefined;
    clearTimeout(this.sweepTimer);
    clearInterval(this.idleSweeps);
    const conn = this.lockConn;
    this.lockConn = undefined;
    if (conn) await conn.then((c) => this.orm.em.getConnection().getKnex().client.releaseConnection(c)).catch(() => undefined);
  }

  /** Whether a group is being committed or delivered, or appends wait (the append lock may be held). */
  get busy(): boolean {
    return this.flushing || this.queue.length > 0;
  }

  /** Resolves once everything queued so far is committed (used by shutdown). */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise((r) => setTimeout(r, 5));
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      if (!this.postgres) await this.drainPipelined();
      else {
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

  /**
   * SQLite (one connection, one writer, one replica): the next group's INSERT is sent to the driver's
   * thread *before* the group just committed is delivered on this one, so that the two overlap.
   * Order is kept: a group commits only after the one before it has committed, and is delivered (and,
   * with Redis, published) only after that one's deliveries.
   */
  private async drainPipelined(): Promise<void> {
    let committed: { batch: Pending[]; results: Outcome[] } | undefined;
    while (this.queue.length || committed) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const next = batch.length ? this.store(batch).then((results) => ({ batch, results })) : undefined;
      if (committed) {
        // A delivery fault must not undo a commit: the messages are stored and reachable by replay.
        const ids = freshIds(committed.results);
        await this.deliverAll(committed.batch, committed.results, [], ids[ids.length - 1]).catch(() => undefined);
        settle(committed.batch, committed.results);
      }
      committed = await next;
    }
  }

  /**
   * Commits a group and, if it fails as a whole, each of its messages on its own (one bad row must
   * not cost its neighbours their messages). Never rejects: a message that could not be stored gets
   * its error.
   */
  private async store(batch: Pending[], conn?: unknown): Promise<Outcome[]> {
    const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
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
      await this.afterCommit?.();
    } catch (err) {
      return batch.map(() => asError(err)); // stands for a replica that died here: nothing is delivered
    }
    return results;
  }

  /**
   * Commits and delivers one group under the append lock (see `store` for a group that fails); false
   * (with nobody settled) when the lock could not be had.
   */
  private async commitGroup(batch: Pending[]): Promise<boolean> {
    let results: Outcome[];
    try {
      results = await this.inOrder(async (conn) => {
        const markRead = this.recovery?.publisher.readMark().then(
          (value) => ({ value }),
          () => undefined,
        );
        const r = await this.store(batch, conn);
        const ids = freshIds(r); // ascending: the INSERT drew them in VALUES order
        const span = ids.length ? { first: ids[0], last: ids[ids.length - 1] } : undefined;
        // The group is committed now: a mark that cannot be read, or a failed look-up, must not fail
        // it. Its messages then stay behind the mark (which only moves past ids that were checked),
        // for the next group or a sweep to deliver in order, rather than out of order now.
        let stranded: Stranded[] | null = [];
        if (markRead && span) {
          const mark = await markRead;
          stranded = mark ? await this.prepareStranded(mark.value, span.first).catch(() => null) : null;
        }
        // A delivery fault must not undo a commit (nor look like a failed one, which is retried).
        await this.deliverAll(batch, r, stranded, span?.last).catch(() => undefined);
        return r;
      });
    } catch (err) {
      if (batch.length === 1) batch[0].reject(err);
      return batch.length === 1;
    }
    settle(batch, results);
    return true;
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
      this.sweepSoon();
    }
    await this.delivered();
  }

  /** Sweeps after a group that left its messages behind the mark, in case no other group follows. */
  private sweepSoon(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.publishStranded().catch(() => this.recovery && this.sweepSoon());
    }, SWEEP_DELAY_MS);
    this.sweepTimer.unref();
  }

  /**
   * Delivers what was committed and never published (see `setRecovery`) without waiting for the next
   * group: called when this replica's Redis connections are back after an outage.
   */
  async publishStranded(): Promise<void> {
    const recovery = this.recovery;
    if (!recovery) return;
    await this.inOrder(async () => {
      const mark = await recovery.publisher.readMark();
      if (mark === undefined) return;
      const stranded = await this.prepareStranded(mark);
      if (stranded.length) await recovery.publisher.publishGroup(() => stranded.forEach((s) => s.deliver()), stranded[stranded.length - 1].lastId);
    });
  }

  /**
   * Prepares the delivery, oldest first, of committed rows between the published mark and `before`
   * (or the end of the log): what a replica stored and did not live (or reach Redis) to publish.
   */
  private async prepareStranded(mark: number | undefined, before?: number): Promise<Stranded[]> {
    if (mark === undefined) return [];
    const knex = this.orm.em.getConnection().getKnex();
    const prepared: Stranded[] = [];
    for (let cursor = mark; before === undefined || cursor < before - 1; ) {
      const result =
        before === undefined
          ? await knex.raw('select * from chat_messages where id > ? order by id limit ?', [cursor, REPLAY_PAGE])
          : await knex.raw('select * from chat_messages where id > ? and id < ? order by id limit ?', [cursor, before, REPLAY_PAGE]);
      const rows = ((this.postgres ? result.rows : result) as Record<string, unknown>[]).map(fromRow);
      if (!rows.length) break; // ids drawn and never stored: rolled back, or skipped as duplicates
      cursor = rows[rows.length - 1].id;
      prepared.push({ deliver: await this.recovery!.redeliver(rows), lastId: cursor });
    }
    return prepared;
  }

  /**
   * Runs a group's commit-then-deliver while holding the cluster-wide append lock on PostgreSQL (a
   * session advisory lock), so that groups from all replicas commit *and* are published in id order.
   * SQLite has one connection and one replica: the drain loop is the lock.
   *
   * The lock lives on a connection the log keeps for itself, and the group's INSERT runs on it too:
   * no pool round trip per group, and the UNLOCK is not waited for, since the next group's LOCK on the
   * same connection is sent after it. A connection that fails is dropped (its session lock with it).
   */
  private inOrder<T>(group: (conn?: unknown) => Promise<T>): Promise<T> {
    if (!this.postgres) return group();
    // A session advisory lock is re-entrant: callers of this replica (the drain loop, a sweep) that
    // share the connection must also take turns here.
    const run = this.turn.then(() => this.locked(group));
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async locked<T>(group: (conn?: unknown) => Promise<T>): Promise<T> {
    const knex = this.orm.em.getConnection().getKnex();
    const conn = (this.lockConn ??= knex.client.acquireConnection());
    let held: unknown;
    try {
      held = await conn;
      await onConnection(held, true, 'select pg_advisory_lock(?)', [APPEND_LOCK_KEY]);
    } catch (err) {
      this.dropLockConnection(conn);
      throw err;
    }
    try {
      return await group(held);
    } finally {
      // Never let a failed unlock look like a failed commit (a retry would store twice).
      void onConnection(held, true, 'select pg_advisory_unlock(?)', [APPEND_LOCK_KEY]).catch(() => this.dropLockConnection(conn));
    }
  }

  private dropLockConnection(conn: Promise<unknown>): void {
    if (this.lockConn !== conn) return;
    this.lockConn = undefined;
    const client = this.orm.em.getConnection().getKnex().client;
    void conn.then((c) => client.releaseConnection(c)).catch(() => undefined);
  }

  /**
   * Stores the group with one statement: a multi-row `INSERT … ON CONFLICT (sender_id, local_id) DO
   * NOTHING RETURNING`, which commits by itself (autocommit) on both databases. One statement instead
   * of BEGIN / look-up / INSERT / COMMIT: on SQLite each statement is a hop to the driver's thread, and
   * on PostgreSQL a round trip, so a small group cost three times as much. A `local_id` that is already
   * stored is skipped by the conflict clause and looked up afterwards (its row is committed and never
   * changes). Ids are drawn in VALUES order, since this is the only writer of the table at this moment
   * (one SQLite connection; the advisory lock on PostgreSQL).
   */
  private async commit(inputs: NewMessage[], conn?: unknown): Promise<Outcome[]> {
    const knex = this.orm.em.getConnection().getKnex();
    const now = this.clock.now();
    const messages = inputs.map((input) => toMessage(input, now));
    const insert = async (db: Knex | Knex.Transaction): Promise<InsertedRow[]> => {
      const params: unknown[] = [];
      // SQLite keeps a datetime as epoch milliseconds: a literal, like the ids below.
      const millis = String(now.getTime());
      // Placeholders are positional: the parameters are pushed in the order of the columns.
      const values = messages.map((m) => {
        const row = [
          bindText(params, m.localId), word(params, m.type), int(params, m.senderId), bind(params, m.senderName), word(params, m.senderRole),
          int(params, m.targetId), word(params, m.audience), bind(params, m.payload), bindText(params, m.streamId), int(params, m.replyTo),
          this.postgres ? bind(params, now) : millis,
        ];
        return `(${row.join(', ')})`;
      });
      // Hand-written SQL, valid on both databases: the query builder's quoting showed up in profiles.
      const sql = `${INSERT_SQL} ${values.join(', ')} ${ON_CONFLICT_RETURNING}`;
      if (db !== knex) {
        const result = await db.raw(sql, params as Knex.RawBinding[]);
        return (this.postgres ? result.rows : result) as InsertedRow[];
      }
      // Straight to the driver: knex's runner (pool, bindings, events) cost more than the INSERT.
      if (conn) return onConnection<InsertedRow>(conn, this.postgres, sql, params);
      const pooled = await knex.client.acquireConnection();
      try {
        return await onConnection<InsertedRow>(pooled, this.postgres, sql, params);
      } finally {
        await knex.client.releaseConnection(pooled);
      }
    };
    const beforeCommit = this.beforeCommit;
    const rows = beforeCommit
      ? // Fault injection needs a moment between drawing the ids and making them visible.
        await knex.transaction(async (trx) => {
          const r = await insert(trx);
          await beforeCommit();
          return r;
        })
      : await insert(knex);

    const outcomes = this.matchInserted(messages, rows);
    const missing = outcomes.flatMap((o, i) => (o === undefined ? [i] : []));
    if (missing.length) {
      // The rest of the group is committed now: a failure here is only these messages' failure.
      const existing = await this.findExisting(knex, missing.map((i) => messages[i])).catch((err: Error) => err);
      for (const i of missing) {
        const found = existing instanceof Error ? undefined : existing.get(keyOf(messages[i])!);
        outcomes[i] = found
          ? { message: found, duplicate: true }
          : existing instanceof Error
            ? existing
            : new Error('a message with this local_id was stored and has since been deleted');
      }
    }
    for (const o of outcomes) if (!(o instanceof Error) && !o!.duplicate) this.onStored(o!.message.type);
    return outcomes as Outcome[];
  }

  /**
   * Gives each message the id the INSERT returned for it. The returned rows, in id order, are the
   * inserted messages in VALUES order; a message whose row is missing either repeats a `local_id`
   * earlier in this group (a duplicate of that one) or one stored before (left `undefined` here).
   */
  private matchInserted(messages: ChatMessage[], rows: InsertedRow[]): (Outcome | undefined)[] {
    const sorted = rows.map((r) => ({ id: Number(r.id), key: keyOf({ senderId: Number(r.sender_id), localId: r.local_id }) }));
    sorted.sort((a, b) => a.id - b.id);
    const returnedKeys = new Set(sorted.flatMap((r) => (r.key ? [r.key] : [])));
    const inGroup = new Map<string, ChatMessage>();
    let next = 0;
    return messages.map((message) => {
      const key = keyOf(message);
      if (key && inGroup.has(key)) return { message: inGroup.get(key)!, duplicate: true };
      if (key && !returnedKeys.has(key)) return undefined;
      const row = sorted[next++];
      if (!row || row.key !== key) throw new Error('message log: the INSERT returned rows out of VALUES order');
      message.id = row.id;
      if (key) inGroup.set(key, message);
      return { message, duplicate: false };
    });
  }

  private async findExisting(db: Knex, messages: ChatMessage[]): Promise<Map<string, ChatMessage>> {
    const pairs = messages.map(() => '(sender_id = ? and local_id = ?)').join(' or ');
    const result = await db.raw(
      `select * from chat_messages where ${pairs}`,
      messages.flatMap((m) => [m.senderId, m.localId as string]),
    );
    const rows = (this.postgres ? result.rows : result) as Record<string, unknown>[];
    const map = new Map<string, ChatMessage>();
    for (const r of rows) {
      const m = fromRow(r);
      map.set(keyOf(m)!, m);
    }
    return map;
  }

  /**
   * Stored messages visible to a user with an id above `afterId`, ascending (PROTOCOL §5): addressed
   * to them, sent by them, broadcasts, and (for admins) the Butler's authorization traffic.
   */
  async visibleAfter(user: { id: number; role: Role }, afterId: number, limit = REPLAY_PAGE): Promise<ChatMessage[]> {
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
}

export const REPLAY_PAGE_SIZE = REPLAY_PAGE;

/** Runs SQL with `?` placeholders on a driver connection (node-sqlite3's Database or pg's Client). */
function onConnection<Row>(conn: unknown, postgres: boolean, sql: string, params: unknown[]): Promise<Row[]> {
  if (postgres) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (conn as PgClient<Row>).query(text, params).then((r) => r.rows);
  }
  return new Promise((resolve, reject) =>
    (conn as SqliteDatabase<Row>).all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows))),
  );
}

interface PgClient<Row> {
  query(text: string, values: unknown[]): Promise<{ rows: Row[] }>;
}

interface SqliteDatabase<Row> {
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: Row[]) => void): void;
}

// A group's INSERT writes ids, enum words and NULLs into the SQL text and binds only free text.
// Binding a value is work on the event loop's thread in node-sqlite3 (about 3.5 us a row for eleven
// parameters, most of the driver's cost there); parsing a literal is the driver thread's. Anything
// that is not plainly an integer or an upper-case word is bound like text, so nothing a client
// wrote is ever part of the SQL.

/** Adds a parameter; its placeholder. */
function bind(params: unknown[], value: unknown): string {
  params.push(value);
  return '?';
}

function bindText(params: unknown[], value: string | null): string {
  return value === null ? 'NULL' : bind(params, value);
}

function int(params: unknown[], value: number | null): string {
  if (value === null) return 'NULL';
  return Number.isSafeInteger(value) ? String(value) : bind(params, value);
}

/** A type, role or audience (`CHAT`, `MEMBER`, `ADMINS`…): set by the server, never by a client. */
function word(params: unknown[], value: string | null): string {
  if (value === null) return 'NULL';
  return /^[A-Z_]{1,32}$/.test(value) ? `'${value}'` : bind(params, value);
}

/** Resolves (or rejects) each append of a delivered group with its outcome. */
function settle(batch: Pending[], results: Outcome[]): void {
  batch.forEach((p, i) => {
    const r = results[i];
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  });
}

/** The ids this group stored (not the duplicates it found). */
function freshIds(results: Outcome[]): number[] {
  return results.flatMap((r) => (r instanceof Error || r.duplicate ? [] : [r.message.id]));
}

/** The idempotency key of a message: its sender and `local_id` (PROTOCOL §3.4). */
function keyOf(m: { senderId: number; localId: string | null }): string | undefined {
  return m.localId ? `${m.senderId}\u0000${m.localId}` : undefined;
}

function toMessage(input: NewMessage, now: Date): ChatMessage {
  return Object.assign(new ChatMessage(), {
    type: input.type,
    localId: input.localId ?? null,
    senderId: input.senderId,
    senderName: input.senderName,
    senderRole: input.senderRole,
    targetId: input.targetId,
    audience: input.audience ?? null,
    payload: input.payload,
    streamId: input.streamId ?? null,
    replyTo: input.replyTo ?? null,
    createdAt: now,
  });
}

/** A `chat_messages` row (as either driver returns it) as the entity class, unmanaged. */
function fromRow(r: Record<string, unknown>): ChatMessage {
  const date = r.created_at;
  return Object.assign(new ChatMessage(), {
    id: Number(r.id),
    localId: (r.local_id as string | null) ?? null,
    type: r.type as ChatMessage['type'],
    senderId: Number(r.sender_id),
    senderName: r.sender_name as string,
    senderRole: r.sender_role as ChatMessage['senderRole'],
    targetId: r.target_id === null || r.target_id === undefined ? null : Number(r.target_id),
    audience: (r.audience as string | null) ?? null,
    payload: r.payload as string,
    streamId: (r.stream_id as string | null) ?? null,
    replyTo: r.reply_to === null || r.reply_to === undefined ? null : Number(r.reply_to),
    createdAt: dateOf(date)!,
  });
}
