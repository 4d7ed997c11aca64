import { EventEmitter } from 'node:events';
import Redis, { ReplyError } from 'ioredis';
import type { Logger } from '../shared/logger';

/**
 * A Redis that accepts commands and never answers (a stuck connection, a frozen server) would hold the
 * cluster-wide append lock forever. After this long without a reply the replica drops its Redis
 * connections and treats Redis as down until they are ready again: it goes on storing and acking,
 * and what it stores waits behind the published mark for the sweep (see redis-cluster.ts).
 */
export const COMMAND_TIMEOUT_MS = 3_000;
/** How long a PUBLISH is retried while Redis answers but the publisher reconnects (ioredis backs off ≤ 2 s). */
const PUBLISH_RETRY_MS = 5_000;

/**
 * A replica's three Redis connections (the publisher and subscriber of the stream and the adapter,
 * and a command client for presence) and its view of Redis' health: `subscriberUp` (with whether
 * Redis had been away), `subscriberDown`, `publisherUp`.
 */
export class RedisConnections extends EventEmitter<{ subscriberUp: [wasDown: boolean]; subscriberDown: []; publisherUp: [] }> {
  readonly pub: Redis;
  readonly sub: Redis;
  readonly cmd: Redis;
  private subReady = false;
  private wasDown = false;
  private closing = false;
  /** Rejecters of the commands waiting for a reply on the publisher. */
  private readonly unanswered = new Set<(err: Error) => void>();

  constructor(url: string, name: string, private readonly log: Logger) {
    super();
    const common = { maxRetriesPerRequest: 2, retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000), lazyConnect: true };
    // Commands fail at once while disconnected instead of queueing. No resend of unanswered commands
    // after a reconnect: a PUBLISH in flight when the connection breaks fails at once (see `answered`)
    // and is published again by the stream, in its place.
    const failFast = { ...common, enableOfflineQueue: false };
    this.pub = new Redis(url, { ...failFast, autoResendUnfulfilledCommands: false, connectionName: `${name}:pub` });
    this.sub = new Redis(url, { ...common, connectionName: `${name}:sub` });
    this.cmd = new Redis(url, { ...failFast, commandTimeout: COMMAND_TIMEOUT_MS, connectionName: `${name}:cmd` });
    for (const [client, redis] of [['pub', this.pub], ['sub', this.sub], ['cmd', this.cmd]] as const) {
      redis.on('error', (err) => this.log.warn({ client, err: err.message }, 'redis error'));
    }
    this.sub.on('ready', () => {
      this.subReady = true;
      const wasDown = this.wasDown;
      this.wasDown = false;
      this.emit('subscriberUp', wasDown);
    });
    this.pub.on('ready', () => this.emit('publisherUp'));
    this.pub.on('close', () => {
      for (const abort of this.unanswered) abort(new Error('redis publisher connection closed before the reply'));
      this.unanswered.clear();
    });
    this.sub.on('close', () => {
      if (this.subReady) this.log.warn('redis subscriber lost: live delivery paused');
      if (this.subReady) this.emit('subscriberDown');
      this.subReady = false;
      this.wasDown = true;
    });
  }

  async connect(): Promise<void> {
    await Promise.all([this.pub.connect(), this.sub.connect(), this.cmd.connect()]);
    this.wasDown = false;
  }

  /** Whether the subscriber is connected: Redis is up, whatever the publisher's connection does. */
  get subscribed(): boolean {
    return this.subReady;
  }

  /** Both the subscriber and the publisher are connected. */
  get writable(): boolean {
    return this.subReady && this.pub.status === 'ready';
  }

  /** A publish failed: when the subscriber is ready next, it counts as a recovery. */
  markDown(): void {
    this.wasDown = true;
  }

  /** Whether Redis answers now (readiness). */
  async ping(): Promise<void> {
    if (!this.subReady) throw new Error('redis subscriber is not connected');
    await this.cmd.ping();
  }

  /** Retries `attempt` while the subscriber is connected (Redis is up), for PUBLISH_RETRY_MS at most. */
  async whileSubscribed<T>(attempt: () => Promise<T>): Promise<T> {
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
   * A publisher command's reply, or a failure as soon as the publisher's connection closes without
   * one, or when no reply came within COMMAND_TIMEOUT_MS (then every connection is dropped: see there).
   * ioredis would keep the commands until Redis is back, while the message log holds the cluster-wide
   * append lock waiting for them: every replica would stop acking.
   */
  answered<T>(command: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      // Settled once: by the reply, by the publisher's connection closing (see the constructor), or
      // by the timeout. The timer goes with the first of them: a command failed by a closed
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

  async close(): Promise<void> {
    this.closing = true;
    this.removeAllListeners();
    await Promise.allSettled([this.pub.quit(), this.sub.quit(), this.cmd.quit()]);
    for (const c of [this.pub, this.sub, this.cmd]) c.disconnect();
  }
}
