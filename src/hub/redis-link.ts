import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis, { ReplyError } from 'ioredis';
import type { Adapter } from 'socket.io-adapter';
import type { GroupPublisher } from '../messages/message-log.service';
import type { Logger } from '../shared/logger';
import type { OrderedPacket, OrderedSink } from './ordered-delivery';

/** How long a PUBLISH is retried while Redis answers but the publisher reconnects (ioredis backs off ≤ 2 s). */
const PUBLISH_RETRY_MS = 5_000;
/**
 * A Redis that accepts commands and never answers (a stuck connection, a frozen server) would hold the
 * cluster-wide append lock forever. After this long without a reply the replica drops its Redis
 * connections and treats Redis as down until they are ready again: it goes on storing and acking,
 * and what it stores waits behind the published mark for the sweep (see groupPublisher).
 */
const COMMAND_TIMEOUT_MS = 3_000;
/**
 * Moves the published mark forward only: a MULTI that a stuck Redis runs late must not move it back.
 * ARGV[2], when given, is an expiry in seconds (a replica's private mark, see groupPublisher).
 */
const SET_MARK_IF_GREATER =
  "local c = tonumber(redis.call('GET', KEYS[1]) or '0') if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end if ARGV[2] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0";
/** How long a replica's private mark outlives its last group. */
const PRIVATE_MARK_TTL_S = 3_600;
/** How long one read of the published mark may take before it counts as failed. */
const MARK_READ_TIMEOUT_MS = 1_000;
/** Stored messages kept for a late PUBLISH after an outage (beyond this, the oldest rely on replay). */
const MAX_UNPUBLISHED_BYTES = 32 * 1024 * 1024;

/** One encoded broadcast; `id` when it carries a stored message. */
interface Packet {
  channel: string;
  msg: string | Buffer;
  id?: number;
}

interface Unpublished extends Packet {
  bytes: number;
  /** The mark of the group it belonged to (one replica): a mark at or past it means it went out. */
  mark?: number;
}

/**
 * The Redis connection of a replica: the publisher and subscriber of the Socket.IO adapter, a
 * command client for presence, and the replica's view of Redis health.
 *
 * Delivery order: ids are committed in id order cluster-wide (see MessageLogService), and a client's
 * `last_id` is only a safe replay cursor if it also *receives* them in id order. So every stored
 * message goes out on one ordered channel (`<prefix>:ordered`) that every replica, this one included,
 * reads and hands to its sockets (OrderedDelivery), and the message log waits until this replica has
 * read its group back before it lets the next group commit: one global order, from commit to every
 * socket. Whatever has no id (stream chunks, PRESENCE, SYSTEM_LOG) is a plain broadcast of the Redis
 * adapter; since a group is read back before its sender goes on, a CHAT_STREAM_END sent after its
 * CHAT never overtakes it.
 *
 * When Redis is unreachable nothing is delivered live (publishes fail at once, so the append lock is
 * never held waiting for Redis); when the subscriber is back, `recovered` fires with the
 * highest id this replica had received in order, and the hub sends each socket what it missed.
 * Only a publisher that drops while the subscriber stays connected is waited for (publishOrdered).
 *
 * Replicas do not come back at the same moment (each client backs off on its own), and one replica
 * can lose Redis while the others keep it: a replica that is still cut off goes on committing, and
 * replicas that are already back (and resynced) would never see those messages. With several
 * replicas (PostgreSQL) the published mark has not moved past them (see groupPublisher): the next
 * group any replica commits delivers them first, in order, and this replica sweeps them itself once
 * it is back (`writable`). Without the mark (one replica), the packets of stored messages whose
 * PUBLISH failed are kept and published late once this replica is back. Every socket gets each of
 * them once: the replay gate drops the ones a replay or resync already sent, and the others were
 * never delivered.
 */
export class RedisLink extends EventEmitter<{ recovered: [floor: number]; down: []; writable: [] }> implements OrderedSink {
  readonly pub: Redis;
  readonly sub: Redis;
  readonly cmd: Redis;
  readonly keyPrefix: string;
  /** The channel of the message log's stream (see the class comment). */
  private readonly orderedChannel: string;
  /** This replica's sockets, where what the ordered channel brings is delivered. */
  private receiver: (packet: OrderedPacket) => void = () => undefined;
  /** Waiters for this replica to read its own publishes back (see `published`). */
  private readBack: { id: number; resolve: () => void }[] = [];
  /** The highest id this replica has published on the ordered channel. */
  private publishedUpTo = 0;
  private pending = new Set<Promise<unknown>>();
  private subReady = false;
  private wasDown = false;
  /** The highest message id received through the ordered stream. */
  private receivedUpTo = 0;
  /** Rejecters of the PUBLISHes waiting for a reply. */
  private readonly unanswered = new Set<(err: Error) => void>();
  private unpublished: Unpublished[] = [];
  /** While a message-log group delivers: its stored messages, published together (see publishGroup). */
  private collecting?: Packet[];
  /** Whether the message log recovers unpublished messages through the mark (see groupPublisher). */
  private markMode = false;
  /** The published mark: the cluster's, or this replica's own (see groupPublisher). */
  private markKey: string;
  private markTtl: string[] = [];
  private unpublishedBytes = 0;
  private flushing = false;
  private closing = false;

  constructor(url: string, keyPrefix: string, private readonly log: Logger) {
    super();
    this.keyPrefix = keyPrefix;
    this.markKey = `${keyPrefix}:log:published`;
    this.orderedChannel = `${keyPrefix}:ordered`;
    const common = { maxRetriesPerRequest: 2, retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000), lazyConnect: true };
    // Commands fail at once while disconnected instead of queueing. No resend of unanswered commands
    // after a reconnect: a PUBLISH in flight when the connection breaks fails at once (see publishOnce)
    // and is published again by this class, in its place.
    const failFast = { ...common, enableOfflineQueue: false };
    this.pub = new Redis(url, { ...failFast, autoResendUnfulfilledCommands: false, connectionName: `${keyPrefix}:pub` });
    this.sub = new Redis(url, { ...common, connectionName: `${keyPrefix}:sub` });
    this.cmd = new Redis(url, { ...failFast, commandTimeout: COMMAND_TIMEOUT_MS, connectionName: `${keyPrefix}:cmd` });
    for (const [name, client] of [['pub', this.pub], ['sub', this.sub], ['cmd', this.cmd]] as const) {
      client.on('error', (err) => this.log.warn({ client: name, err: err.message }, 'redis error'));
    }
    this.sub.on('ready', () => {
      this.subReady = true;
      if (this.wasDown) {
        this.wasDown = false;
        this.log.info({ floor: this.receivedUpTo }, 'redis is back: resynchronising sockets');
        this.emit('recovered', this.receivedUpTo);
      }
      this.afterReconnect();
    });
    this.pub.on('ready', () => this.afterReconnect());
    this.pub.on('close', () => {
      for (const abort of this.unanswered) abort(new Error('redis publisher connection closed before the reply'));
      this.unanswered.clear();
    });
    this.sub.on('message', (channel: string, msg: string) => {
      if (channel === this.orderedChannel) this.received(msg);
    });
    this.sub.on('close', () => {
      this.releaseReadBack(Infinity); // nothing comes back now: the resync after recovery covers it
      if (this.subReady) this.log.warn('redis subscriber lost: live delivery paused');
      if (this.subReady) this.emit('down');
      this.subReady = false;
      this.wasDown = true;
    });
  }

  /** Connects; `lastStoredId` is where the ordered stream starts for this replica. */
  async connect(lastStoredId: number): Promise<void> {
    await Promise.all([this.pub.connect(), this.sub.connect(), this.cmd.connect()]);
    await this.sub.subscribe(this.orderedChannel); // ioredis subscribes again after a reconnect
    this.receivedUpTo = lastStoredId;
    this.wasDown = false;
  }

  /** Whether Redis answers now (readiness). */
  async ping(): Promise<void> {
    if (!this.subReady) throw new Error('redis subscriber is not connected');
    await this.cmd.ping();
  }

  /**
   * The message log's side of Redis (MessageLogService.setPublisher): the publication of a group's
   * broadcasts *with* the mark of how far the log has been published, in one MULTI, so that Redis
   * never has the one without the other. A retry after a lost reply reads the mark to learn whether
   * the MULTI ran (see publishOrdered).
   *
   * With `recoverThroughMark` (several replicas, PostgreSQL: MessageLogService.setRecovery) the mark
   * is the cluster's and also finds what a replica committed and never published. A mark that moved
   * while its messages did not would be a hole; messages out without their mark would be sent twice.
   */
  groupPublisher({ recoverThroughMark }: { recoverThroughMark: boolean }): GroupPublisher {
    this.markMode = recoverThroughMark;
    if (!recoverThroughMark) {
      // One replica: the mark only tells a retry whether the MULTI before it ran. It is this process's
      // own, so that a database started afresh behind the same Redis never meets an old mark.
      this.markKey = `${this.keyPrefix}:log:published:${randomUUID()}`;
      this.markTtl = [String(PRIVATE_MARK_TTL_S)];
    }
    return {
      // Retried like a PUBLISH while only the publisher reconnects: a group that cannot read the
      // mark holds its messages back (behind the mark) until the next group or a sweep.
      readMark: () =>
        this.whileSubscribed(async () => {
          const value = await this.readMarkOnce();
          // No mark: a new prefix, or a Redis that restarted empty. What was stored during the
          // restart may be unpublished, so start from what this replica last received in order;
          // sockets that a resync already brought further drop the copies (the replay gate).
          return value === undefined ? this.receivedUpTo : value;
        }),
      publishGroup: async (deliver, lastId) => {
        let packets: Packet[] = [];
        this.collecting = packets;
        try {
          deliver();
        } finally {
          this.collecting = undefined;
        }
        // Unchecked: the stored messages stay behind the mark for the next group (or sweep) to send.
        if (lastId === null) packets = packets.filter((p) => p.id === undefined);
        if (!packets.length && lastId === null) return;
        const done = this.publishOrdered(packets, lastId ?? undefined);
        this.track(done, packets, lastId ?? undefined);
        await done.catch(() => undefined);
      },
    };
  }

  /** The published mark as Redis has it (`undefined`: none), within MARK_READ_TIMEOUT_MS. */
  private async readMarkOnce(): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), MARK_READ_TIMEOUT_MS)));
    const value = await Promise.race([this.answered(this.pub.get(this.markKey)), timeout]).finally(() => clearTimeout(timer));
    return value === null ? undefined : Number(value);
  }

  /**
   * Waits until every PUBLISH issued so far has been answered (or failed), and this replica has read
   * its own stored messages back from the ordered channel, so that its sockets have them before the
   * sender goes on (an ack, a CHAT_STREAM_END) and before the next group commits.
   */
  async published(): Promise<void> {
    if (this.pending.size) await Promise.allSettled([...this.pending]);
    const id = this.publishedUpTo;
    if (id <= this.receivedUpTo || !this.subReady) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ id }, 'redis did not bring a published message back in time: going on');
        resolve();
      }, COMMAND_TIMEOUT_MS);
      this.readBack.push({ id, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Where the ordered channel's messages are delivered on this replica. */
  onOrdered(receiver: (packet: OrderedPacket) => void): void {
    this.receiver = receiver;
  }

  /** A stored message for every replica's sockets: published with its group, or on its own. */
  push(packet: OrderedPacket): void {
    const out: Packet = { channel: this.orderedChannel, msg: JSON.stringify(packet), id: packet.envelope.id };
    if (this.collecting) this.collecting.push(out);
    else this.track(this.publishOrdered([out]), [out]);
  }

  /** The adapter factory for `new Server({adapter})`: the Redis adapter, for everything without an id. */
  adapter(): (nsp: unknown) => Adapter {
    return createAdapter(this.guardedPublisher(), this.sub, { key: `${this.keyPrefix}#socket.io`, requestsTimeout: 3000 });
  }

  /**
   * The publisher as the adapter sees it: the adapter leaves the promise of each PUBLISH unhandled,
   * and ours fail at once while Redis is away (no offline queue), which would end the process. A
   * broadcast without an id that fails is lost, like any broadcast sent while Redis is down.
   */
  private guardedPublisher(): Redis {
    const dropped = (err: Error) => this.log.debug({ err: err.message }, 'redis adapter publish failed');
    return new Proxy(this.pub, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === 'publish') return (...args: Parameters<Redis['publish']>) => target.publish(...args).catch(dropped);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** A message from the ordered channel: to this replica's sockets, in the order Redis brings them. */
  private received(msg: string): void {
    let packet: OrderedPacket;
    try {
      packet = JSON.parse(msg) as OrderedPacket;
    } catch (err) {
      return this.log.error({ err }, 'unreadable message on the ordered channel');
    }
    const id = packet.envelope.id;
    if (id > this.receivedUpTo) this.receivedUpTo = id;
    try {
      this.receiver(packet);
    } finally {
      this.releaseReadBack(this.receivedUpTo);
    }
  }

  private releaseReadBack(upTo: number): void {
    if (!this.readBack.length) return;
    const waiting = this.readBack;
    this.readBack = [];
    for (const w of waiting) {
      if (w.id <= upTo) w.resolve();
      else this.readBack.push(w);
    }
  }

  /**
   * PUBLISHes on the ordered stream (with the published mark, for a message-log group), in one MULTI.
   * A failure while this replica's subscriber is still connected means Redis is up and only the
   * publisher's connection broke: the other replicas' subscribers are live and would skip these
   * messages for good (nothing makes them resync). So it is retried until the publisher is back,
   * still inside the append lock, which keeps the order. When the subscriber is down too, Redis is
   * away: fail at once; the resync after recovery covers it.
   */
  private publishOrdered(packets: Packet[], mark?: number): Promise<void> {
    let sent = false;
    return this.whileSubscribed(async () => {
      // A retry after a reply that never came: Redis may have run the MULTI just before the
      // connection broke. The mark moves in the same MULTI, and only groups move it (one at a time:
      // the append lock, or SQLite's one writer), so a mark at this group's last id means it ran,
      // and publishing it again would deliver every message in it twice.
      if (sent && mark !== undefined && ((await this.readMarkOnce()) ?? 0) >= mark) return;
      sent = true;
      await this.publishOnce(packets, mark);
    });
  }

  /** Retries `attempt` while the subscriber is connected (Redis is up), for PUBLISH_RETRY_MS at most. */
  private async whileSubscribed<T>(attempt: () => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + PUBLISH_RETRY_MS;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        // Redis answered with an error (out of memory, no permission): trying again changes nothing.
        if (!this.subReady || Date.now() > giveUpAt || err instanceof ReplyError) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /**
   * One attempt, failing when the publisher's connection closes before the reply. ioredis would
   * keep the commands until Redis is back (retries do not flush them when a reconnect reaches a
   * proxy), and the message log holds the cluster-wide append lock while it waits: every replica
   * would stop acking. Whether Redis ran them just before the connection died is unknown: for a
   * message-log group the retry reads the mark first (publishOrdered); a broadcast outside a group
   * (stream chunks, presence, system log: nothing with an id) is sent again and may arrive twice.
   */
  private publishOnce(packets: Packet[], mark?: number): Promise<void> {
    if (packets.length === 1 && mark === undefined) return this.answered(this.pub.publish(packets[0].channel, packets[0].msg)).then(() => undefined);
    const multi = this.pub.multi();
    for (const p of packets) multi.publish(p.channel, p.msg);
    if (mark !== undefined) multi.eval(SET_MARK_IF_GREATER, 1, this.markKey, String(mark), ...this.markTtl);
    return this.answered(multi.exec()).then((replies) => {
      if (!replies) throw new Error('redis transaction aborted');
      const markReply = mark === undefined ? undefined : replies[replies.length - 1];
      const failed = (markReply ? replies.slice(0, -1) : replies).find(([err]) => err);
      if (failed) throw failed[0];
      if (markReply?.[0]) {
        // The messages went out and only the mark did not move. With the cluster's mark the next
        // group would take them for unpublished: report it as before. A replica's own mark only
        // answers a retry, so the group is out.
        if (this.markMode) throw markReply[0];
        this.log.warn({ err: (markReply[0] as Error).message }, 'redis did not move the published mark; a retried publish may be sent twice');
      }
    });
  }

  /**
   * A command's reply, or a failure as soon as the publisher's connection closes without one, or
   * when no reply came within COMMAND_TIMEOUT_MS (then the connections are dropped, see there).
   */
  private answered<T>(command: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      // Settled once: by the reply, by the publisher's connection closing (see the constructor),
      // or by the timeout. The timer goes with the first of them: a command failed by a closed
      // connection is not one that stopped answering.
      const done = () => {
        clearTimeout(timer);
        this.unanswered.delete(fail);
      };
      const fail = (err: Error) => {
        done();
        reject(err);
      };
      const timer = setTimeout(() => {
        fail(new Error(`redis did not answer within ${COMMAND_TIMEOUT_MS} ms`));
        this.unstick();
      }, COMMAND_TIMEOUT_MS);
      this.unanswered.add(fail);
      command.then((value) => {
        done();
        resolve(value);
      }, fail);
    });
  }

  /** Drops and reopens every Redis connection: one of them stopped answering. */
  private unstick(): void {
    if (this.closing) return;
    this.log.warn('redis stopped answering: reconnecting; live delivery waits, messages are still stored');
    for (const client of [this.pub, this.sub, this.cmd]) client.disconnect(true);
  }

  /** Tracks a PUBLISH for the barrier; failed ones of stored messages are kept for later. */
  private track(p: Promise<unknown>, packets: Packet[], mark?: number): void {
    const guarded = p.then(() => {
      for (const packet of packets) if (packet.id !== undefined && packet.id > this.publishedUpTo) this.publishedUpTo = packet.id;
    }, (err) => {
      this.log.warn({ err: (err as Error).message }, 'redis publish failed: delivery waits for recovery');
      this.wasDown = true;
      if (this.markMode) return; // the mark did not move: the next group, or the sweep, delivers them
      for (const packet of packets) if (packet.id !== undefined) this.keepUnpublished(packet, mark);
    });
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }

  private keepUnpublished({ channel, msg }: Packet, mark?: number): void {
    const bytes = typeof msg === 'string' ? Buffer.byteLength(msg) : msg.length;
    this.unpublished.push({ channel, msg, bytes, mark });
    this.unpublishedBytes += bytes;
    while (this.unpublishedBytes > MAX_UNPUBLISHED_BYTES) {
      this.unpublishedBytes -= this.unpublished.shift()!.bytes;
      this.log.warn('too many messages waiting for redis: the oldest reach their clients by replay only');
    }
  }

  /**
   * A connection is back. With the mark, `writable` asks the message log to deliver (in order, under
   * its lock) whatever was stored and not published; without it, the packets kept are published.
   */
  private afterReconnect(): void {
    if (!this.subReady || this.pub.status !== 'ready') return;
    if (this.markMode) this.emit('writable');
    else void this.flushUnpublished();
  }

  /** Publishes, oldest first, what failed during an outage, once both connections are back. */
  private async flushUnpublished(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const count = this.unpublished.length;
    try {
      // A group whose MULTI ran although its reply never came has moved the mark: it is out already.
      const mark = this.unpublished.some((u) => u.mark !== undefined) ? ((await this.readMarkOnce()) ?? 0) : 0;
      while (this.unpublished.length && this.subReady && this.pub.status === 'ready') {
        const next = this.unpublished[0];
        if (next.mark === undefined || next.mark > mark) await this.publishOnce([next]);
        this.unpublished.shift();
        this.unpublishedBytes -= next.bytes;
      }
      if (count && !this.unpublished.length) this.log.info({ count }, 'published the messages stored during the outage');
    } catch {
      // Redis went away again: the next 'ready' retries.
    } finally {
      this.flushing = false;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.published();
    this.unpublished = [];
    this.removeAllListeners();
    await Promise.allSettled([this.pub.quit(), this.sub.quit(), this.cmd.quit()]);
    for (const c of [this.pub, this.sub, this.cmd]) c.disconnect();
  }
}
