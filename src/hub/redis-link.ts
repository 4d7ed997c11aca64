import { EventEmitter } from 'node:events';
import { RedisAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Adapter, type BroadcastOptions } from 'socket.io-adapter';
import type { Logger } from '../shared/logger';
import { withReplayGate } from './replay-gate';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** How long a PUBLISH is retried while Redis answers but the publisher reconnects (ioredis backs off ≤ 2 s). */
const PUBLISH_RETRY_MS = 5_000;
/** Stored messages kept for a late PUBLISH after an outage (beyond this, the oldest rely on replay). */
const MAX_UNPUBLISHED_BYTES = 32 * 1024 * 1024;

interface Unpublished {
  channel: string;
  msg: string | Buffer;
  bytes: number;
}

/**
 * The Redis connection of a replica: the publisher and subscriber of the Socket.IO adapter, a
 * command client for presence, and the replica's view of Redis health.
 *
 * Delivery order: ids are committed in id order cluster-wide (see MessageLogService), and a client's
 * `last_id` is only a safe replay cursor if it also *receives* them in id order. So every room
 * broadcast, local ones included, goes through Redis and comes back through this replica's own
 * subscription, and the message log waits for the PUBLISH replies before it lets the next group
 * commit: one global order, from commit to every socket.
 *
 * When Redis is unreachable nothing is delivered live (publishes fail at once, so the append lock is
 * never held waiting for Redis); when the subscriber is back, `recovered` fires with the
 * highest id this replica had received in order, and the hub sends each socket what it missed.
 * Only a publisher that drops while the subscriber stays connected is waited for (publishOrdered).
 *
 * Replicas do not come back at the same moment (each client backs off on its own), and one replica
 * can lose Redis while the others keep it: a replica that is still cut off goes on committing, and
 * replicas that are already back (and resynced) would never see those messages. So the packets of
 * stored messages whose PUBLISH failed are kept and published late once this replica is back. Every
 * socket gets each of them once: the replay gate drops the ones a replay or resync already sent, and
 * the others were never delivered. They arrive out of id order, which is why a resync is not enough.
 */
export class RedisLink extends EventEmitter<{ recovered: [floor: number]; down: [] }> {
  readonly pub: Redis;
  readonly sub: Redis;
  readonly cmd: Redis;
  readonly keyPrefix: string;
  private pending = new Set<Promise<unknown>>();
  private subReady = false;
  private wasDown = false;
  /** The highest message id received through the ordered stream. */
  private receivedUpTo = 0;
  /** Rejecters of the PUBLISHes waiting for a reply. */
  private readonly unanswered = new Set<(err: Error) => void>();
  private unpublished: Unpublished[] = [];
  private unpublishedBytes = 0;
  private flushing = false;

  constructor(url: string, keyPrefix: string, private readonly log: Logger) {
    super();
    this.keyPrefix = keyPrefix;
    const common = { maxRetriesPerRequest: 2, retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000) };
    // No resend of unanswered commands after a reconnect: a PUBLISH in flight when the connection
    // breaks fails at once (see publishOnce) and is published again by this class, in its place.
    this.pub = new Redis(url, {
      ...common,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      lazyConnect: true,
      connectionName: `${keyPrefix}:pub`,
    });
    this.sub = new Redis(url, { ...common, lazyConnect: true, connectionName: `${keyPrefix}:sub` });
    this.cmd = new Redis(url, { ...common, enableOfflineQueue: false, lazyConnect: true, connectionName: `${keyPrefix}:cmd` });
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
      void this.flushUnpublished();
    });
    this.pub.on('ready', () => void this.flushUnpublished());
    this.pub.on('close', () => {
      for (const abort of this.unanswered) abort(new Error('redis publisher connection closed before the reply'));
      this.unanswered.clear();
    });
    this.sub.on('close', () => {
      if (this.subReady) this.log.warn('redis subscriber lost: live delivery paused');
      if (this.subReady) this.emit('down');
      this.subReady = false;
      this.wasDown = true;
    });
  }

  /** Connects; `lastStoredId` is where the ordered stream starts for this replica. */
  async connect(lastStoredId: number): Promise<void> {
    await Promise.all([this.pub.connect(), this.sub.connect(), this.cmd.connect()]);
    this.receivedUpTo = lastStoredId;
    this.wasDown = false;
  }

  /** Whether Redis answers now (readiness). */
  async ping(): Promise<void> {
    if (!this.subReady) throw new Error('redis subscriber is not connected');
    await this.cmd.ping();
  }

  /** Waits until every PUBLISH issued so far has been answered (or failed). */
  async published(): Promise<void> {
    if (!this.pending.size) return;
    const now = [...this.pending];
    await Promise.allSettled(now);
  }

  /** The adapter factory for `new Server({adapter})`: Redis, ordered, with the replay gate. */
  adapter(): (nsp: unknown) => Adapter {
    const link = this;
    const Gated = withReplayGate(RedisAdapter as any, (id) => {
      if (id > link.receivedUpTo) link.receivedUpTo = id;
    }) as unknown as new (...args: any[]) => any;
    class OrderedRedisAdapter extends Gated {
      broadcast(packet: any, opts: BroadcastOptions): void {
        packet.nsp = this.nsp.name;
        if (opts.flags?.local) return (Adapter.prototype.broadcast as any).call(this, packet, opts);
        const raw = { rooms: [...opts.rooms], except: [...new Set(opts.except)], flags: opts.flags };
        // A uid that differs from ours, so that our own subscription delivers it to our sockets too.
        const msg = this.parser.encode([`${this.uid}:ordered`, packet, raw]);
        let channel: string = this.channel;
        if (opts.rooms && opts.rooms.size === 1) channel += `${opts.rooms.values().next().value}#`;
        const stored = typeof packet.data?.[1]?.id === 'number';
        link.track(link.publishOrdered(channel, msg), stored ? { channel, msg } : undefined);
      }
    }
    const { pub, sub, keyPrefix } = this;
    // Socket.IO calls the adapter with `new`: a plain function that returns the instance works.
    return function createOrderedAdapter(nsp: unknown) {
      return <Adapter>new OrderedRedisAdapter(nsp, pub, sub, { key: `${keyPrefix}#socket.io`, requestsTimeout: 3000 });
    };
  }

  /**
   * PUBLISH on the ordered stream. A failure while this replica's subscriber is still connected means
   * Redis is up and only the publisher's connection broke: the other replicas' subscribers are live
   * and would skip this message for good (nothing makes them resync). So it is retried until the
   * publisher is back, still inside the append lock, which keeps the order. When the subscriber is
   * down too, Redis is away: fail at once; the resync after recovery covers it.
   */
  private async publishOrdered(channel: string, msg: string | Buffer): Promise<void> {
    const giveUpAt = Date.now() + PUBLISH_RETRY_MS;
    for (;;) {
      try {
        await this.publishOnce(channel, msg);
        return;
      } catch (err) {
        if (!this.subReady || Date.now() > giveUpAt) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /**
   * One PUBLISH that fails when the publisher's connection closes before the reply. ioredis would
   * keep it until Redis is back (retries do not flush it when a reconnect reaches a proxy), and the
   * message log holds the cluster-wide append lock while it waits: every replica would stop acking.
   * If Redis had run it just before the connection died, the later publish is a second copy; that is
   * the one case where a client can get an id twice (it dedupes by id, PROTOCOL §3.3).
   */
  private publishOnce(channel: string, msg: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.unanswered.add(reject);
      this.pub.publish(channel, msg).then(
        () => resolve(),
        (err) => reject(err),
      ).finally(() => this.unanswered.delete(reject));
    });
  }

  /** Tracks a PUBLISH for the barrier; a failed one of a stored message is kept for later. */
  private track(p: Promise<unknown>, late?: { channel: string; msg: string | Buffer }): void {
    const guarded = p.catch((err) => {
      this.log.warn({ err: (err as Error).message }, 'redis publish failed: delivery waits for recovery');
      this.wasDown = true;
      if (late) this.keepUnpublished(late);
    });
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }

  private keepUnpublished({ channel, msg }: { channel: string; msg: string | Buffer }): void {
    const bytes = typeof msg === 'string' ? Buffer.byteLength(msg) : msg.length;
    this.unpublished.push({ channel, msg, bytes });
    this.unpublishedBytes += bytes;
    while (this.unpublishedBytes > MAX_UNPUBLISHED_BYTES) {
      this.unpublishedBytes -= this.unpublished.shift()!.bytes;
      this.log.warn('too many messages waiting for redis: the oldest reach their clients by replay only');
    }
  }

  /** Publishes, oldest first, what failed during an outage, once both connections are back. */
  private async flushUnpublished(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const count = this.unpublished.length;
    try {
      while (this.unpublished.length && this.subReady && this.pub.status === 'ready') {
        const next = this.unpublished[0];
        await this.publishOnce(next.channel, next.msg);
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
    await this.published();
    this.unpublished = [];
    this.removeAllListeners();
    await Promise.allSettled([this.pub.quit(), this.sub.quit(), this.cmd.quit()]);
    for (const c of [this.pub, this.sub, this.cmd]) c.disconnect();
  }
}
