import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App } from '../../src/app';
import { ConfigError, loadConfig } from '../../src/config/config';
import { withKeptDevSecret } from '../../src/config/dev-secret';
import { createLogger } from '../../src/shared/logger';
import { RestClient, testConfig } from '../support';

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

const WARN = 40;
const ADMIN_WARNING = /created with the development default password/;

describe('development without JWT_SECRET (issue 13)', () => {
  const dirs: string[] = [];
  const apps: App[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'echocenter-devsecret-'));
    dirs.push(dir);
    return join(dir, 'data');
  };
  /** A development config over `dir` (SQLite in it), as `.env`-less `npm start` would have it. */
  const devConfig = (dir: string, env: Record<string, string | undefined> = {}) =>
    testConfig({ NODE_ENV: 'development', JWT_SECRET: undefined, DB_DRIVER: 'sqlite', SQLITE_PATH: join(dir, 'echocenter.db'), ...env });
  async function start(dir: string, env: Record<string, string | undefined> = {}) {
    const log = capturingLogger();
    const app = await createApp(devConfig(dir, env), { logger: log.logger });
    apps.push(app);
    const api = new RestClient(await app.listen(0, '127.0.0.1'));
    return { app, api, lines: log.lines };
  }
  const stop = async (app: App) => {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  };
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('keeps a login valid across a restart over the same data directory, and only there', async () => {
    const dir = dataDir();
    const first = await start(dir);
    const login = await first.api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    expect(login.status).toBe(200);
    const token: string = login.body.token;
    expect((await first.api.get('/api/users', token)).status).toBe(200);
    expect(first.lines.some((l) => l.level === WARN && /development secret created now in/.test(l.msg))).toBe(true);
    await stop(first.app);

    const second = await start(dir);
    expect((await second.api.get('/api/users', token)).status).toBe(200);
    expect(second.lines.some((l) => l.level === WARN && /development secret kept in/.test(l.msg))).toBe(true);
    await stop(second.app);

    // Another data directory has another secret: the token is not valid everywhere.
    const elsewhere = await start(dataDir());
    expect((await elsewhere.api.get('/api/users', token)).status).toBe(401);
    await stop(elsewhere.app);
  });

  it('keeps the secret in <dir of SQLITE_PATH>/jwt-secret with mode 0600, never in a log line', async () => {
    const dir = dataDir();
    const { app, lines } = await start(dir);
    const file = join(dir, 'jwt-secret');
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(app.config.jwt.secret).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(lines)).not.toContain(secret);
    await stop(app);
  });

  it('replaces an unusable (empty) secret file and narrows a readable one to 0600', () => {
    const dir = dataDir();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'jwt-secret');
    writeFileSync(file, '\n', { mode: 0o644 });
    const config = withKeptDevSecret(devConfig(dir));
    expect(config.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(file, 'utf8').trim()).toBe(config.jwt.secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  it('writes no file when JWT_SECRET is set, and uses that secret', () => {
    const dir = dataDir();
    const config = withKeptDevSecret(devConfig(dir, { JWT_SECRET: 'a-development-secret-of-enough-length' }));
    expect(config.jwt.secret).toBe('a-development-secret-of-enough-length');
    expect(existsSync(join(dir, 'jwt-secret'))).toBe(false);
  });

  it('still refuses a production start without JWT_SECRET, and writes nothing', () => {
    const dir = dataDir();
    const env = { NODE_ENV: 'production', ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'a-real-admin-password', SQLITE_PATH: join(dir, 'echocenter.db') };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/JWT_SECRET/);
    const withSecret = loadConfig({ ...env, JWT_SECRET: 'k3v9-Qx7p2LmZr8T0wYb5Nd4Hs6Jc1Fa' });
    expect(withSecret.jwt.devSecretFile).toBeUndefined();
    expect(withKeptDevSecret(withSecret)).toBe(withSecret);
    expect(existsSync(dir)).toBe(false);
  });

  describe('the development admin password warning', () => {
    it('is logged when the bootstrap admin is created with it, and not at a later start', async () => {
      const dir = dataDir();
      const first = await start(dir);
      const warned = first.lines.filter((l) => ADMIN_WARNING.test(l.msg));
      expect(warned).toHaveLength(1);
      expect(warned[0].level).toBe(WARN);
      expect(JSON.stringify(first.lines)).not.toContain('admin123');
      await stop(first.app);

      const second = await start(dir);
      expect(second.lines.filter((l) => ADMIN_WARNING.test(l.msg))).toEqual([]);
      await stop(second.app);
    });

    it('is not logged when the admin is created with a chosen ADMIN_PASSWORD', async () => {
      const { app, lines } = await start(dataDir(), { ADMIN_PASSWORD: 'a-chosen-password' });
      expect(lines.some((l) => l.msg === 'created the bootstrap admin')).toBe(true);
      expect(lines.filter((l) => ADMIN_WARNING.test(l.msg))).toEqual([]);
      await stop(app);
    });

    it('is no longer one of the config warnings printed at every start', () => {
      expect(loadConfig({}).warnings.join('\n')).not.toMatch(/ADMIN_PASSWORD/);
    });
  });
});
