import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, EXAMPLE_JWT_SECRETS, loadConfig } from '../../src/config/config';
import { parseDuration } from '../../src/config/duration';

/** loadConfig is pure: these tests need no database. */
const GOOD_SECRET = 'k3v9-Qx7p2LmZr8T0wYb5Nd4Hs6Jc1Fa';
const prod = (env: Record<string, string | undefined> = {}) =>
  loadConfig({ NODE_ENV: 'production', JWT_SECRET: GOOD_SECRET, ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'a-real-admin-password', ...env });

/** The ConfigError loadConfig throws for `env`, or a failure when it does not throw. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig in production', () => {
  it('accepts a real secret and admin password', () => {
    const config = prod();
    expect(config.production).toBe(true);
    expect(config.jwt.secret).toBe(GOOD_SECRET);
    expect(config.admin).toEqual({ username: 'root', password: 'a-real-admin-password' });
    expect(config.warnings).toEqual([]);
    // The heap compaction's pause (~0.5 s at 20,000 sockets) is opt-in, in production too.
    expect(config.heapCompaction).toBe('off');
    expect(prod({ HEAP_COMPACTION: 'idle' }).heapCompaction).toBe('idle');
  });

  it.each([
    ['a missing JWT_SECRET', undefined],
    ['an empty JWT_SECRET', ''],
    ['a 31-character JWT_SECRET', 'x'.repeat(31)],
  ])('refuses %s, naming JWT_SECRET and what to set', (_name, secret) => {
    const problems = problemsOf(() => prod({ JWT_SECRET: secret }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^JWT_SECRET\b/);
    expect(problems[0]).toMatch(/32/);
  });

  it('accepts a JWT_SECRET of exactly 32 characters', () => {
    expect(prod({ JWT_SECRET: 'y'.repeat(32) }).jwt.secret).toHaveLength(32);
  });

  it.each(EXAMPLE_JWT_SECRETS.map((s) => [s]))('refuses the example JWT_SECRET %s', (secret) => {
    expect(problemsOf(() => prod({ JWT_SECRET: secret }))).toEqual([expect.stringMatching(/^JWT_SECRET\b.*example/)]);
  });

  it('refuses every JWT_SECRET value shown in README.md and .env.example', () => {
    const root = join(__dirname, '..', '..');
    const shown = ['README.md', '.env.example']
      .map((f) => join(root, f))
      .filter((f) => existsSync(f))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/JWT_SECRET\s*[=:]\s*["'`]?([^\s"'`]+)/g)].map((m) => m[1]));
    for (const secret of shown) {
      expect({ secret, problems: problemsOf(() => prod({ JWT_SECRET: secret })).filter((p) => p.startsWith('JWT_SECRET')) }).toEqual({
        secret,
        problems: [expect.any(String)],
      });
    }
  });

  it.each([
    ['a missing ADMIN_PASSWORD', undefined],
    ['the development ADMIN_PASSWORD admin123', 'admin123'],
  ])('refuses %s, naming ADMIN_PASSWORD', (_name, password) => {
    const problems = problemsOf(() => prod({ ADMIN_PASSWORD: password }));
    expect(problems).toEqual([expect.stringMatching(/^ADMIN_PASSWORD\b/)]);
  });

  it('refuses a missing ADMIN_USERNAME, naming it', () => {
    expect(problemsOf(() => prod({ ADMIN_USERNAME: undefined }))).toEqual([expect.stringMatching(/^ADMIN_USERNAME\b/)]);
  });

  it('lists every problem at once, in the error message too', () => {
    let message = '';
    const problems = problemsOf(() => {
      try {
        return loadConfig({ NODE_ENV: 'production', ADMIN_USERNAME: 'root' });
      } catch (err) {
        message = (err as Error).message;
        throw err;
      }
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['ADMIN_PASSWORD', 'JWT_SECRET']);
    expect(message).toContain('JWT_SECRET');
    expect(message).toContain('ADMIN_PASSWORD');
  });

  it('turns registration off and allows no CORS origin unless told otherwise', () => {
    expect(prod().allowRegistration).toBe(false);
    expect(prod().corsOrigins).toEqual([]);
    expect(prod({ ALLOW_REGISTRATION: 'true' }).allowRegistration).toBe(true);
    expect(prod({ CORS_ORIGINS: 'https://a.example, https://b.example' }).corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });
});

describe('loadConfig outside production', () => {
  it('uses the defaults of PROTOCOL §7', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      nodeEnv: 'development',
      production: false,
      port: 8080,
      host: '0.0.0.0',
      db: { driver: 'sqlite', sqlitePath: './data/echocenter.db' },
      jwt: { expiresInSeconds: 24 * 3600 },
      admin: { username: 'admin', password: 'admin123' },
      allowRegistration: true,
      corsOrigins: '*',
      maxPayloadBytes: 65536,
      socketRateLimit: { perSecond: 50, burst: 200 },
      butler: { authTimeoutMs: 10 * 60_000, agentTimeoutMs: 60_000 },
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
      heapCompaction: 'off',
      handshakeConcurrency: 32,
    });
    expect(c.redis).toBeUndefined();
    expect(c.butler.baseUrl).toBeUndefined();
  });

  it('takes HANDSHAKE_CONCURRENCY as a whole number, 0 for no limit, and refuses anything else by name', () => {
    expect(loadConfig({ HANDSHAKE_CONCURRENCY: '0' }).handshakeConcurrency).toBe(0);
    expect(loadConfig({ HANDSHAKE_CONCURRENCY: '200' }).handshakeConcurrency).toBe(200);
    for (const bad of ['-1', '2.5', 'many']) expect(() => loadConfig({ HANDSHAKE_CONCURRENCY: bad })).toThrow(/HANDSHAKE_CONCURRENCY/);
  });

  it('makes a per-process JWT secret as a fallback, names the file that keeps one, and warns without printing it', () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(a.jwt.secret).not.toBe(b.jwt.secret);
    // loadConfig stays pure: it names the file next to the database; dev-secret.ts reads or writes it.
    expect(a.jwt.devSecretFile).toBe(join('data', 'jwt-secret'));
    expect(loadConfig({ SQLITE_PATH: '/var/lib/ec/db.sqlite' }).jwt.devSecretFile).toBe('/var/lib/ec/jwt-secret');
    expect(loadConfig({ SQLITE_PATH: ':memory:' }).jwt.devSecretFile).toBeUndefined();
    expect(loadConfig({ JWT_SECRET: 'set-by-the-developer-and-long-enough' }).jwt.devSecretFile).toBeUndefined();
    expect(a.warnings.join('\n')).toMatch(/JWT_SECRET/);
    // The admin password is warned about by the bootstrap, only when the admin is created with it.
    expect(a.warnings.join('\n')).not.toMatch(/ADMIN_PASSWORD/);
    for (const w of a.warnings) {
      expect(w).not.toContain(a.jwt.secret);
      expect(w).not.toContain('admin123');
    }
  });

  it('returns a frozen object', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.db)).toBe(true);
  });

  it('requires DATABASE_URL when DB_DRIVER=postgres', () => {
    expect(problemsOf(() => loadConfig({ DB_DRIVER: 'postgres' }))).toEqual([expect.stringMatching(/^DATABASE_URL\b/)]);
    expect(loadConfig({ DB_DRIVER: 'postgres', DATABASE_URL: 'postgres://u@h/db' }).db.databaseUrl).toBe('postgres://u@h/db');
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DB_DRIVER', 'mysql'],
    ['ALLOW_REGISTRATION', 'maybe'],
    ['MAX_PAYLOAD_BYTES', 'lots'],
    ['SOCKET_RATE_LIMIT', 'fast'],
    ['LOG_LEVEL', 'loud'],
    ['JWT_EXPIRES_IN', 'forever'],
    ['SHUTDOWN_TIMEOUT', '10 parsecs'],
    ['BUTLER_AGENT_TIMEOUT', '-5s'],
    ['ADMIN_USERNAME', 'has space'],
    ['ADMIN_USERNAME', 'butler'],
    ['ADMIN_PASSWORD', 'short'],
  ])('refuses %s=%s with a problem that names the variable', (key, value) => {
    const problems = problemsOf(() => loadConfig({ [key]: value }));
    expect(problems.some((p) => p.startsWith(key))).toBe(true);
  });
});

describe('durations (PROTOCOL §7)', () => {
  it.each([
    ['1500', 1500],
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    [' 2m ', 120_000],
    ['0', 0],
  ])('parses %p as %p ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '10 parsecs', '-5s', '5d', 's', '1e3', '10s5'])('refuses %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('applies to every duration setting', () => {
    const c = loadConfig({ JWT_EXPIRES_IN: '10s', SHUTDOWN_TIMEOUT: '1500', BUTLER_AUTH_TIMEOUT: '5m', BUTLER_AGENT_TIMEOUT: '250ms' });
    expect(c.jwt.expiresInSeconds).toBe(10);
    expect(c.shutdownTimeoutMs).toBe(1500);
    expect(c.butler.authTimeoutMs).toBe(300_000);
    expect(c.butler.agentTimeoutMs).toBe(250);
    expect(loadConfig({ JWT_EXPIRES_IN: '5m' }).jwt.expiresInSeconds).toBe(300);
  });
});
