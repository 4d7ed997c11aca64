/** A tiny `--key value` / `--flag` parser for the bench scripts (no dependency). */
export class Args {
  private readonly values = new Map<string, string | true>();

  constructor(argv: readonly string[] = process.argv.slice(2)) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
      const eq = arg.indexOf('=');
      if (eq > 0) this.values.set(arg.slice(2, eq), arg.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) this.values.set(arg.slice(2), argv[++i]);
      else this.values.set(arg.slice(2), true);
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string, def: string): string {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : def;
  }

  /** A positive number (integers unless `allowFraction`); exits with a message on a bad value. */
  number(name: string, def: number, allowFraction = false): number {
    const v = this.values.get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (v === true || !Number.isFinite(n) || n <= 0 || (!allowFraction && !Number.isInteger(n))) {
      throw new Error(`--${name} needs a positive ${allowFraction ? 'number' : 'integer'}`);
    }
    return n;
  }

  choice<T extends string>(name: string, options: readonly T[], def: T): T {
    const v = this.string(name, def);
    if (!options.includes(v as T)) throw new Error(`--${name} must be one of ${options.join(', ')}`);
    return v as T;
  }
}
