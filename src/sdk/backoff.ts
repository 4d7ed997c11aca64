/** How long to wait between connection attempts. */
export interface BackoffOptions {
  /** The first delay, in milliseconds (default 500). */
  minMs?: number;
  /** The largest delay (default 30 000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** The share of each delay that is random, 0…1 (default 0.5). */
  jitter?: number;
  /** A source of numbers in [0, 1) (default Math.random; tests pass a fixed one). */
  random?: () => number;
}

/**
 * Jittered exponential backoff. The jitter matters: after a replica restarts, every agent it held
 * reconnects at once, and without it they would all retry in lock-step.
 */
export class Backoff {
  private attempt = 0;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.minMs = options.minMs ?? 500;
    this.maxMs = Math.max(options.maxMs ?? 30_000, this.minMs);
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(Math.max(options.jitter ?? 0.5, 0), 1);
    this.random = options.random ?? Math.random;
  }

  /** Attempts made since the last `reset()`. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt: `min·factor^n` capped at `max`, of which `jitter` is random. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - this.jitter) + base * this.jitter * this.random());
  }

  /** Back to the first delay (after a connection that worked). */
  reset(): void {
    this.attempt = 0;
  }
}
