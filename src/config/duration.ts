const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration: milliseconds as a bare number, or a number with `ms`, `s`, `m` or `h`.
 * Returns `undefined` for anything else so that the caller can report the key that was wrong.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]) * UNITS[(match[2] ?? 'ms').toLowerCase()];
  return Number.isFinite(value) ? Math.round(value) : undefined;
}

export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: the largest burst accepted at once. */
  burst: number;
}

/** Parses `SOCKET_RATE_LIMIT`: `50/s,200` (rate per second or minute, then the burst). */
export function parseRateLimit(text: string): RateLimit | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m)\s*(?:,\s*(\d+))?\s*$/i.exec(text);
  if (!match) return undefined;
  const rate = Number(match[1]);
  const perSecond = match[2].toLowerCase() === 'm' ? rate / 60 : rate;
  const burst = match[3] === undefined ? Math.max(1, Math.ceil(rate)) : Number(match[3]);
  if (perSecond <= 0 || burst < 1) return undefined;
  return { perSecond, burst };
}
