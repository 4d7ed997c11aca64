import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createAdapter } from '@socket.io/redis-adapter';
import type Redis from 'ioredis';
import type { Adapter } from 'socket.io-adapter';
import type { OrderedPacket } from '../hub/ordered-delivery';
import type { PresenceTracker } from '../hub/presence';
import type { GroupPublisher } from '../messages/log/message-log.service';
import type { Logger } from '../shared/logger';
import type { ClusterEvents, ClusterLink } from './cluster-link';
import { GroupCollector } from './group-collector';
import { OutageBuffer, type Packet } from './outage-buffer';
import { COMMAND_TIMEOUT_MS, RedisConnections } from './redis-connections';
import { RedisPresence } from './redis-presence';

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

/**
 * Several replicas as one over Redis.
 *
 * Delivery order: ids are committed in id order cluster-wide (see MessageLogService), and a client's
 * `last_id` is only a safe replay cursor if it also *receives* them in id order. So every stored
 * message goes out on one ordered channel (`<prefix>:ordered`) that every replica, this one included,
 * reads and hands to its sockets (OrderedDelivery), and the message log waits until this replica has
 * read its group back before it lets the next group commit: one global order, from commit to every
 * socket. What has no id (stream chunks, PRESENCE, SYSTEM_LOG) is a plain broadcast of the Redis
 * adapter; since a group is read back before its sender goes on, a CHAT_STREAM_END sent after its
 * CHAT never overtakes it.
 *
 * When Redis is unreachable nothing is delivered live (publishes fail at once, so the append lock is
 * never held waiting for Redis); when the subscriber is back, `recovered` fires with the highest id
 * this replica had received in order, and the hub sends each socket what it missed. Only a publisher
 * that drops while the subscriber stays connected is waited for (publishOrdered).
 *
 * Replicas do not come back at the same moment, and one replica can lose Redis while the others keep
 * it: a replica that is still cut off goes on committing, and replicas that are already back would
 * never see those messages. With several replicas (PostgreSQL) the published mark has not moved past
 * them: the next group any replica commits delivers them first, in order, and this replica sweeps
 * them itself once it is back (`writable`). Without the mark (one replica), the OutageBuffer
 * publishes them late.
 */
export class RedisCluster extends EventEmitter<ClusterEvents> implements ClusterLink {
  private readonly redis: RedisConnections;
  private readonly orderedChannel: string;
  private readonly buffer: OutageBuffer;
  private receiver: (packet: OrderedPacket) => void = () => undefined;
  /** Waiters for this replica to read its own publishes back (see `published`). */
  private readBackWaiters: { id: number; resolve: () => void }[] = [];
  /** The highest id this replica has published, and the highest it has received, on the stream. */
  private publishedUpTo = 0;
  private receivedUpTo = 0;
  private pending = new Set<Promise<unknown>>();
  /** While a message-log group delivers: its stored messages, published together (see groupPublisher). */
  private readonly group = new GroupCollector<Packet>();
  /** Whether the message log recovers unpublished messages through the mark (see groupPublisher). */
  private markMode = false;
  /** The published mark: the cluster's, or this replica's own (see groupPublisher). */
  private markKey: string;
  private markTtl: string[] = [];

  constructor(url: string, private readonly keyPrefix: string, private readonly log: Logger) {
    super();
    this.redis = new RedisConnections(url, keyPrefix, log);
    this.buffer = new OutageBuffer(log);
    this.markKey = `${keyPrefix}:log:published`;
    this.orderedChannel = `${keyPrefix}:ordered`;
    this.redis.on('subscriberUp', (wasDown) => {
      if (wasDown) {
        this.log.info({ floor: this.receivedUpTo }, 'redis is back: resynchronising sockets');
        this.emit('recovered', this.receivedUpTo);
      }
      this.afterReconnect();
    });
    this.redis.on('publisherUp', () => this.afterReconnect());
    this.redis.on('subscriberDown', () => this.emit('down'));
    this.redis.sub.on('close', () => this.releaseReadBack(Infinity)); // nothing comes back now: the resync covers it
    this.redis.sub.on('message', (channel: string, msg: string) => {
      if (channel === this.orderedChannel) this.received(msg);
    });
  }

  async connect(lastStoredId: number): Promise<void> {
    await this.redis.connect();
    await this.redis.sub.subscribe(this.orderedChannel); // ioredis subscribes again after a reconnect
    this.receivedUpTo = lastStoredId;
  }

  ping(): Promise<void> {
    return this.redis.ping();
  }

  presence(gone: (agentId: number) => Promise<void>): PresenceTracker {
    return new RedisPresence(this.redis.cmd, this.keyPrefix, this.log.child({ module: 'presence' }), gone);
  }

  onOrdered(receiver: (packet: OrderedPacket) => void): void {
    this.receiver = receiver;
  }

  /** A stored message for every replica's sockets: published with its group, or on its own. */
  push(packet: OrderedPacket): void {
    const out: Packet = { channel: this.orderedChannel, msg: JSON.stringify(packet), id: packet.envelope.id };
    if (!this.group.offer(out)) this.track(this.publishOrdered([out]), [out]);
  }

  /** The Redis adapter, for everything without an id. */
  adapter(): (nsp: unknown) => Adapter {
    return createAdapter(this.guardedPublisher(), this.redis.sub, { key: `${this.keyPrefix}#socket.io`, requestsTimeout: 3000 });
  }

  /**
   * The message log's side: a group's stored messages published *with* the mark of how far the log has
   * been published, in one MULTI, so that Redis never has the one without the other. A retry after a
   * lost reply reads the mark to learn whether the MULTI ran (see publishOrdered). With
   * `recoverThroughMark` the mark is the cluster's and also finds what a replica committed and never
   * published: a mark that moved while its messages did not would be a hole; messages out without
   * their mark would be sent twice.
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
        this.redis.whileSubscribed(async () => {
          const value = await this.readMarkOnce();
          // No mark: a new prefix, or a Redis that restarted empty. What was stored during the
          // restart may be unpublished, so start from what this replica last received in order;
          // sockets that a resync already brought further drop the copies (the replay gate).
          return value === undefined ? this.receivedUpTo : value;
        }),
      publishGroup: async (deliver, lastId) => {
        const packets = this.group.collect(deliver);
        // Unchecked (`null`): the stored messages stay behind the mark for the next group or a sweep.
        // Otherwise the mark moves even when nothing went to a socket, or the next group would take
        // these rows for stranded.
        if (lastId === null) return;
        const done = this.publishOrdered(packets, lastId);
        this.track(done, packets, lastId);
        await done.catch(() => undefined);
      },
    };
  }

  /** Waits until every PUBLISH issued so far has been answered (or failed): the next group may go. */
  async published(): Promise<void> {
    if (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /**
   * Waits until this replica has read its stored messages up to `id` back from the ordered channel,
   * so that its sockets have them before the sender goes on (an ack, a CHAT_STREAM_END). Not when
   * nothing was published up to there (Redis is away: the resync covers it) or the subscriber is down.
   */
  async readBack(id: number): Promise<void> {
    if (id > this.publishedUpTo) id = this.publishedUpTo;
    if (id <= this.receivedUpTo || !this.redis.subscribed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ id }, 'redis did not bring a published message back in time: going on');
        resolve();
      }, COMMAND_TIMEOUT_MS);
      this.readBackWaiters.push({ id, resolve: () => (clearTimeout(timer), resolve()) });
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
    if (packet.envelope.id > this.receivedUpTo) this.receivedUpTo = packet.envelope.id;
    try {
      this.receiver(packet);
    } finally {
      this.releaseReadBack(this.receivedUpTo);
    }
  }

  private releaseReadBack(upTo: number): void {
    if (!this.readBackWaiters.length) return;
    const waiting = this.readBackWaiters;
    this.readBackWaiters = [];
    for (const w of waiting) {
      if (w.id <= upTo) w.resolve();
      else this.readBackWaiters.push(w);
    }
  }

  /**
   * The publisher as the adapter sees it: the adapter leaves the promise of each PUBLISH unhandled,
   * and ours fail at once while Redis is away (no offline queue), which would end the process. A
   * broadcast without an id that fails is lost, like any broadcast sent while Redis is down.
   */
  private guardedPublisher(): Redis {
    const dropped = (err: Error) => this.log.debug({ err: err.message }, 'redis adapter publish failed');
    return new Proxy(this.redis.pub, {
      get(target, key) {
        if (key === 'publish') return (...args: Parameters<Redis['publish']>) => target.publish(...args).catch(dropped);
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** The published mark as Redis has it (`undefined`: none), within MARK_READ_TIMEOUT_MS. */
  private async readMarkOnce(): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), MARK_READ_TIMEOUT_MS)));
    const value = await Promise.race([this.redis.answered(this.redis.pub.get(this.markKey)), timeout]).finally(() => clearTimeout(timer));
    return value === null ? undefined : Number(value);
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
    return this.redis.whileSubscribed(async () => {
      // A retry after a reply that never came: Redis may have run the MULTI just before the
      // connection broke. The mark moves in the same MULTI, and only groups move it (one at a time:
      // the append lock, or SQLite's one writer), so a mark at this group's last id means it ran,
      // and publishing it again would deliver every message in it twice.
      if (sent && mark !== undefined && ((await this.readMarkOnce()) ?? 0) >= mark) return;
      sent = true;
      await this.publishOnce(packets, mark);
    });
  }

  /**
   * One attempt, failing when the publisher's connection closes before the reply (see
   * RedisConnections.answered). Whether Redis ran it just before the connection died is unknown: for a
   * message-log group the retry reads the mark first (publishOrdered).
   */
  private publishOnce(packets: Packet[], mark?: number): Promise<void> {
    const { pub } = this.redis;
    if (packets.length === 1 && mark === undefined) return this.redis.answered(pub.publish(packets[0].channel, packets[0].msg)).then(() => undefined);
    const multi = pub.multi();
    for (const p of packets) multi.publish(p.channel, p.msg);
    if (mark !== undefined) multi.eval(SET_MARK_IF_GREATER, 1, this.markKey, String(mark), ...this.markTtl);
    return this.redis.answered(multi.exec()).then((replies) => {
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

  /** Tracks a PUBLISH for the barrier; failed ones of stored messages are kept for later. */
  private track(p: Promise<unknown>, packets: Packet[], mark?: number): void {
    const guarded = p.then(
      () => {
        for (const packet of packets) if (packet.id > this.publishedUpTo) this.publishedUpTo = packet.id;
      },
      (err) => {
        this.log.warn({ err: (err as Error).message }, 'redis publish failed: delivery waits for recovery');
        this.redis.markDown();
        if (this.markMode) return; // the mark did not move: the next group, or the sweep, delivers them
        for (const packet of packets) this.buffer.keep(packet, mark);
      },
    );
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }

  /**
   * A connection is back. With the mark, `writable` asks the message log to deliver (in order, under
   * its lock) whatever was stored and not published; without it, the kept messages are published.
   */
  private afterReconnect(): void {
    if (!this.redis.writable) return;
    if (this.markMode) this.emit('writable');
    else
      void this.buffer.flush({
        writable: () => this.redis.writable,
        readMark: () => this.readMarkOnce(),
        publish: (packet) => this.publishOnce([packet]),
      });
  }

  async close(): Promise<void> {
    await this.published();
    this.buffer.clear();
    this.removeAllListeners();
    await this.redis.close();
  }
}
