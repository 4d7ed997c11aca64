import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { parseDuration, parseRateLimit, type RateLimit } from './duration';

/**
 * Example secrets printed in README.md and .env.example. A production replica refuses to start with
 * any of them, because an example that works is an example that gets deployed.
 */
export const EXAMPLE_JWT_SECRETS: readonly string[] = [
  'replace-me-with-at-least-32-random-characters',
  'change-me-to-a-long-random-string-of-32-chars-or-more',
];
export const DEV_ADMIN_PASSWORD = 'admin123';
/** The development secret's file name, in the directory of SQLITE_PATH (`data/jwt-secret` by default). */
export const DEV_SECRET_FILE_NAME = 'jwt-secret';
/** The warning while the secret is the per-process fallback (no file could be used). */
export const RANDOM_SECRET_WARNING =
  'JWT_SECRET is not set: using a random per-process secret (tokens die with the process; replicas cannot share them)';

export interface Config {
  readonly nodeEnv: string;
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly db: {
    readonly driver: 'sqlite' | 'postgres';
    readonly sqlitePath: string;
    readonly databaseUrl?: string;
    /** Largest pool for PostgreSQL; SQLite always uses one connection. */
    readonly poolMax: number;
  };
  readonly redis?: { readonly url: string; readonly keyPrefix: string };
  readonly jwt: {
    readonly secret: string;
    readonly expiresInSeconds: number;
    /**
     * Development without JWT_SECRET: where the generated secret is kept so that restarts keep sessions
     * (`dev-secret.ts` reads or creates it). `secret` is a per-process fallback until then.
     */
    readonly devSecretFile?: string;
  };
  readonly admin: { readonly username: string; readonly password: string };
  readonly allowRegistration: boolean;
  /** `'*'` or the allowed origins. */
  readonly corsOrigins: '*' | readonly string[];
  readonly maxPayloadBytes: number;
  readonly socketRateLimit: RateLimit;
  readonly butler: {
    readonly baseUrl?: string;
    readonly apiToken?: string;
    readonly model?: string;
    readonly authTimeoutMs: number;
    readonly agentTimeoutMs: number;
    /** How long an approved action waits for its offline agent to connect (0: it fails at once). */
    readonly deliveryTimeoutMs: number;
    readonly turnTimeoutMs: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly logLevel: string;
  readonly bcryptRounds: number;
  /** Trust `X-Forwarded-For` (behind an ingress) for the client address used by the login limiter. */
  readonly trustProxy: boolean;
  /**
   * `off` (the default) or, opted in, `idle`: compact the heap once a burst of connections has left it
   * fragmented and the process is quiet. Off by default because each run stops the whole process for
   * ~0.4–0.55 s at 20,000 sockets, and 20,000 agents fit in 350 MB without it.
   */
  readonly heapCompaction: 'idle' | 'off';
  /** Handshakes identified at once (HANDSHAKE_CONCURRENCY; the others wait their turn); 0: no limit. */
  readonly handshakeConcurrency: number;
  /** Things worth a warning at start (development defaults in use); never contains a secret. */
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const duration = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (e.g. 500ms, 10s, 5m, 1h)` });
      return ms ?? 0;
    });
const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Every setting with its default; the descriptions are the README's configuration table. */
const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: int(8080, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  DB_DRIVER: z.enum(['sqlite', 'postgres']).default('sqlite'),
  SQLITE_PATH: z.string().min(1).default('./data/echocenter.db'),
  DATABASE_URL: z.string().optional(),
  DB_POOL_MAX: int(10, 2, 200),
  REDIS_URL: z.string().optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[\w.:-]{1,64}$/, 'letters, digits, _ . : - only').default('echocenter'),
  JWT_SECRET: z.string().optional(),
  JWT_EXPIRES_IN: duration('24h'),
  ADMIN_USERNAME: z.string().optional(),
  ADMIN_PASSWORD: z.string().optional(),
  ALLOW_REGISTRATION: bool.optional(),
  CORS_ORIGINS: z.string().optional(),
  MAX_PAYLOAD_BYTES: int(65536, 256, 16 * 1024 * 1024),
  SOCKET_RATE_LIMIT: z
    .string()
    .default('50/s,200')
    .transform((v, ctx) => {
      const limit = parseRateLimit(v);
      if (!limit) ctx.addIssue({ code: 'custom', message: `"${v}" is not a rate (e.g. 50/s,200)` });
      return limit ?? { perSecond: 1, burst: 1 };
    }),
  BUTLER_BASE_URL: z.url().optional(),
  BUTLER_API_TOKEN: z.string().optional(),
  BUTLER_MODEL: z.string().optional(),
  BUTLER_AUTH_TIMEOUT: duration('10m'),
  BUTLER_AGENT_TIMEOUT: duration('60s'),
  BUTLER_DELIVERY_TIMEOUT: duration('10m'),
  BUTLER_TURN_TIMEOUT: duration('60s'),
  SHUTDOWN_TIMEOUT: duration('10s'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BCRYPT_ROUNDS: int(10, 4, 15),
  TRUST_PROXY: bool.default(false),
  HEAP_COMPACTION: z.enum(['idle', 'off']).default('off'),
  HANDSHAKE_CONCURRENCY: int(32, 0, 100_000),
});

const USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Reads the configuration from an environment, applies the cross-field rules of PROTOCOL §7 and returns
 * a frozen object. Throws a ConfigError that lists every problem and says what to set.
 */
export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const problems: string[] = [];
  const warnings: string[] = [];

  if (e.DB_DRIVER === 'postgres' && !e.DATABASE_URL) {
    problems.push('DATABASE_URL: required when DB_DRIVER=postgres (e.g. postgres://user@host:5432/echocenter)');
  }

  let jwtSecret = e.JWT_SECRET;
  let devSecretFile: string | undefined;
  if (production) {
    if (!jwtSecret || jwtSecret.length < 32) {
      problems.push('JWT_SECRET: set a random secret of at least 32 characters (e.g. `openssl rand -base64 48`)');
    } else if (EXAMPLE_JWT_SECRETS.includes(jwtSecret)) {
      problems.push('JWT_SECRET: the example value from the README/.env.example must not be used; generate your own');
    }
  } else if (!jwtSecret) {
    jwtSecret = randomBytes(48).toString('base64url');
    // An in-memory database has no directory to keep a secret in: its tokens die with it anyway.
    if (e.SQLITE_PATH !== ':memory:') devSecretFile = join(dirname(e.SQLITE_PATH), DEV_SECRET_FILE_NAME);
    warnings.push(RANDOM_SECRET_WARNING);
  }

  const adminUsername = e.ADMIN_USERNAME ?? (production ? undefined : 'admin');
  let adminPassword = e.ADMIN_PASSWORD;
  if (!adminUsername) problems.push('ADMIN_USERNAME: set the bootstrap admin name');
  else if (!USERNAME.test(adminUsername) || adminUsername.toLowerCase() === 'butler') {
    problems.push('ADMIN_USERNAME: 1-64 letters, digits, _ - . and not "butler"');
  }
  if (production) {
    if (!adminPassword || adminPassword === DEV_ADMIN_PASSWORD) {
      problems.push('ADMIN_PASSWORD: set a bootstrap admin password other than the development default');
    }
  } else if (!adminPassword) {
    // Warned about by bootstrap.ts when, and only when, the admin is created with it.
    adminPassword = DEV_ADMIN_PASSWORD;
  }
  if (adminPassword && (adminPassword.length < 8 || adminPassword.length > 128)) {
    problems.push('ADMIN_PASSWORD: 8-128 characters');
  }

  const butlerParts = [e.BUTLER_BASE_URL, e.BUTLER_API_TOKEN, e.BUTLER_MODEL];
  if (butlerParts.some(Boolean) && !(e.BUTLER_BASE_URL && e.BUTLER_MODEL)) {
    problems.push('BUTLER_BASE_URL and BUTLER_MODEL: set both (and BUTLER_API_TOKEN if the endpoint needs one), or none');
  }
  if (problems.length) throw new ConfigError(problems);

  const corsRaw = e.CORS_ORIGINS ?? (production ? '' : '*');
  const corsOrigins =
    corsRaw.trim() === '*' ? '*' : corsRaw.split(',').map((o) => o.trim()).filter(Boolean);

  return deepFreeze({
    nodeEnv: e.NODE_ENV,
    production,
    port: e.PORT,
    host: e.HOST,
    db: { driver: e.DB_DRIVER, sqlitePath: e.SQLITE_PATH, databaseUrl: e.DATABASE_URL, poolMax: e.DB_POOL_MAX },
    redis: e.REDIS_URL ? { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX } : undefined,
    jwt: { secret: jwtSecret!, expiresInSeconds: Math.max(1, Math.round(e.JWT_EXPIRES_IN / 1000)), ...(devSecretFile ? { devSecretFile } : {}) },
    admin: { username: adminUsername!, password: adminPassword! },
    allowRegistration: e.ALLOW_REGISTRATION ?? !production,
    corsOrigins,
    maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
    socketRateLimit: e.SOCKET_RATE_LIMIT,
    butler: {
      baseUrl: e.BUTLER_BASE_URL,
      apiToken: e.BUTLER_API_TOKEN,
      model: e.BUTLER_MODEL,
      authTimeoutMs: e.BUTLER_AUTH_TIMEOUT,
      agentTimeoutMs: e.BUTLER_AGENT_TIMEOUT,
      deliveryTimeoutMs: e.BUTLER_DELIVERY_TIMEOUT,
      turnTimeoutMs: e.BUTLER_TURN_TIMEOUT,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    logLevel: e.LOG_LEVEL,
    bcryptRounds: e.BCRYPT_ROUNDS,
    trustProxy: e.TRUST_PROXY,
    heapCompaction: e.HEAP_COMPACTION,
    handshakeConcurrency: e.HANDSHAKE_CONCURRENCY,
    warnings,
  } satisfies Config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
