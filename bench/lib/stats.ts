/** Latency samples in milliseconds, summarised by nearest-rank percentiles. */
export class Samples {
  private readonly values: number[] = [];

  add(ms: number): void {
    this.values.push(ms);
  }

  get count(): number {
    return this.values.length;
  }

  summary(): { count: number; p50: number; p90: number; p99: number; max: number; mean: number } {
    const sorted = Float64Array.from(this.values).sort();
    const pick = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);
    const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
    return { count: sorted.length, p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: sorted.length ? sorted[sorted.length - 1] : NaN, mean };
  }
}

export const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : 'n/a');
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
export const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));

/** Prints an aligned table of rows (first row is the header). */
export function table(rows: (string | number)[][]): string {
  const text = rows.map((r) => r.map(String));
  const widths = text[0].map((_, c) => Math.max(...text.map((r) => r[c]?.length ?? 0)));
  return text.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}
