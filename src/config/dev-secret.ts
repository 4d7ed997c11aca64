import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RANDOM_SECRET_WARNING, type Config } from './config';

/** Shorter than this and the file is not a secret this module wrote (empty, truncated): it is replaced. */
const MIN_LENGTH = 32;

/**
 * Development without JWT_SECRET: the signing secret generated at the first start and kept in
 * `config.jwt.devSecretFile` (mode 0600), so that a restart does not log every browser out. Returns
 * the config unchanged when there is no such file to use (JWT_SECRET set, production, `:memory:`).
 *
 * Not in `loadConfig`, which stays pure; the composition root calls this before anything signs.
 */
export function withKeptDevSecret(config: Config): Config {
  const file = config.jwt.devSecretFile;
  if (!file) return config;
  const { secret, created } = readOrCreate(file);
  const warning = `JWT_SECRET is not set: using the development secret ${created ? 'created now in' : 'kept in'} ${file} (set JWT_SECRET in production and for several replicas)`;
  return Object.freeze({
    ...config,
    jwt: Object.freeze({ ...config.jwt, secret }),
    warnings: Object.freeze(config.warnings.map((w) => (w === RANDOM_SECRET_WARNING ? warning : w))),
  });
}

function readOrCreate(file: string): { secret: string; created: boolean } {
  const kept = readKept(file);
  if (kept) return { secret: kept, created: false };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  try {
    // `wx`: two development processes starting at once must not each write their own secret.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: kept === undefined ? 'wx' : 'w' });
  } catch (err) {
    const raced = (err as NodeJS.ErrnoException).code === 'EEXIST' ? readKept(file) : undefined;
    if (raced) return { secret: raced, created: false };
    throw err;
  }
  chmodSync(file, 0o600); // a replaced (unusable) file keeps its old mode through `w`
  return { secret, created: true };
}

/** The kept secret; `null` when the file exists but holds no usable secret; undefined when it is missing. */
function readKept(file: string): string | null | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // A copy others can read is narrowed rather than refused: this is development, not a leak to report.
  if (statSync(file).mode & 0o077) chmodSync(file, 0o600);
  const secret = text.trim();
  return secret.length >= MIN_LENGTH ? secret : null;
}
