import type { Clock } from '../shared/clock';

const WINDOW_MS = 60_000;
const MAX_FAILURES = 10;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Failed-login limiter (PROTOCOL §2): after 10 failures for one username and address within a minute,
 * counted from the first failure, every login for that pair is refused until the minute is over.
 * Refused attempts do not count. Kept per replica, in memory.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly clock: Clock) {}

  /** Milliseconds until the pair may try again, or 0 when it may try now. */
  retryAfterMs(username: string, address: string): number {
    const w = this.current(this.key(username, address));
    if (!w || w.failures < MAX_FAILURES) return 0;
    return w.startedAt + WINDOW_MS - this.clock.now().getTime();
  }

  recordFailure(username: string, address: string): void {
    const key = this.key(username, address);
    const w = this.current(key);
    if (w) w.failures += 1;
    else this.windows.set(key, { startedAt: this.clock.now().getTime(), failures: 1 });
    if (this.windows.size > 10_000) this.sweep();
  }

  private current(key: string): Window | undefined {
    const w = this.windows.get(key);
    if (w && this.clock.now().getTime() - w.startedAt >= WINDOW_MS) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  private sweep(): void {
    const now = this.clock.now().getTime();
    for (const [key, w] of this.windows) if (now - w.startedAt >= WINDOW_MS) this.windows.delete(key);
  }

  private key(username: string, address: string): string {
    return `${username.toLowerCase()}\u0000${address}`;
  }
}
