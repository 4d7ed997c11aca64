import type { Logger } from '../shared/logger';
import type { NamespaceKind } from './handshake';

/** How often the socket counts are logged, when they changed. */
const EVERY_MS = 60_000;

/**
 * Logs how many sockets each namespace holds on this replica (info, once a minute when the counts
 * changed): an operator sees connections come and go without a line per socket.
 */
export class ConnectionLog {
  private readonly counts: Record<NamespaceKind, number> = { chat: 0, agents: 0, monitor: 0 };
  private logged = '';
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly log: Logger) {
    this.timer = setInterval(() => this.flush(), EVERY_MS);
    this.timer.unref();
  }

  connected(kind: NamespaceKind): void {
    this.counts[kind]++;
  }

  disconnected(kind: NamespaceKind): void {
    this.counts[kind]--;
  }

  /** Logs the counts if they changed since the last line. */
  flush(): void {
    const now = JSON.stringify(this.counts);
    if (now === this.logged) return;
    this.logged = now;
    this.log.info({ sockets: { ...this.counts } }, 'sockets connected');
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
