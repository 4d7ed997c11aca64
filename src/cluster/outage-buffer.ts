import type { Logger } from '../shared/logger';

/** Stored messages kept for a late PUBLISH after an outage (beyond this, the oldest rely on replay). */
const MAX_UNPUBLISHED_BYTES = 32 * 1024 * 1024;

/** One message on the ordered channel, encoded. */
export interface Packet {
  channel: string;
  msg: string;
  id: number;
}

interface Kept extends Packet {
  bytes: number;
  /** The mark of the group it belonged to: a mark at or past it means it went out after all. */
  mark?: number;
}

/**
 * One replica without the cluster's mark (SQLite and Redis): the stored messages whose PUBLISH failed
 * while Redis was away, published late, oldest first, once it is back. Sockets that a resync already
 * brought past them drop the copies (their replay gates); the others never had them.
 */
export class OutageBuffer {
  private kept: Kept[] = [];
  private bytes = 0;
  private flushing = false;

  constructor(private readonly log: Logger) {}

  keep({ channel, msg, id }: Packet, mark?: number): void {
    const bytes = Buffer.byteLength(msg);
    this.kept.push({ channel, msg, id, bytes, mark });
    this.bytes += bytes;
    while (this.bytes > MAX_UNPUBLISHED_BYTES) {
      this.bytes -= this.kept.shift()!.bytes;
      this.log.warn('too many messages waiting for redis: the oldest reach their clients by replay only');
    }
  }

  /**
   * Publishes what was kept, oldest first, while `writable` holds. A group whose MULTI ran although its
   * reply never came has moved the mark (`readMark`): it is out already and is skipped.
   */
  async flush(io: { writable: () => boolean; readMark: () => Promise<number | undefined>; publish: (p: Packet) => Promise<void> }): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const count = this.kept.length;
    try {
      const mark = this.kept.some((k) => k.mark !== undefined) ? ((await io.readMark()) ?? 0) : 0;
      while (this.kept.length && io.writable()) {
        const next = this.kept[0];
        if (next.mark === undefined || next.mark > mark) await io.publish(next);
        this.kept.shift();
        this.bytes -= next.bytes;
      }
      if (count && !this.kept.length) this.log.info({ count }, 'published the messages stored during the outage');
    } catch {
      // Redis went away again: the next reconnect retries.
    } finally {
      this.flushing = false;
    }
  }

  clear(): void {
    this.kept = [];
    this.bytes = 0;
  }
}
