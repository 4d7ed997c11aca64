import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStats, type ServerStats } from './server-stats';

export type ServerMode = 'echocenter' | 'relay';

/** A server under test, running in its own process so that its CPU and memory are its own. */
export interface ServerHandle {
  readonly mode: ServerMode;
  readonly url: string;
  readonly pid: number;
  stats(gc?: boolean): Promise<ServerStats>;
  /** Starts a V8 CPU profile of the server; the returned function stops it and writes `path`. */
  profile(): Promise<(path: string) => Promise<void>>;
  /** Graceful stop (the app's close()), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  kill(): void;
}

/** Settings every bench run of EchoCenter uses: quiet logs, a limiter that never bites, fast bcrypt. */
export function benchEnv(db: Record<string, string>, extra: Record<string, string> = {}): { env: Record<string, string>; adminPassword: string } {
  const adminPassword = `bench-${randomBytes(12).toString('hex')}`;
  return {
    adminPassword,
    env: {
      NODE_ENV: 'production',
      JWT_SECRET: randomBytes(48).toString('base64url'),
      ADMIN_USERNAME: 'admin',
      ADMIN_PASSWORD: adminPassword,
      LOG_LEVEL: 'warn',
      SOCKET_RATE_LIMIT: '1000000/s,1000000',
      BCRYPT_ROUNDS: '4',
      SHUTDOWN_TIMEOUT: '5s',
      ...db,
      ...extra,
    },
  };
}

/**
 * The node flags of `npm start` (package.json), e.g. the V8 heap settings: the server under test must
 * run with them, or the bench measures a process that production never runs.
 */
export function startFlags(): string[] {
  // From dist/bench/lib, the package root is three levels up.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [, ...rest] = pkg.scripts.start.trim().split(/\s+/);
  const flags: string[] = [];
  for (const word of rest) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}

/**
 * Forks `dist/bench/server-process.js`. The child gets only PATH and `env` (no REDIS_URL or DATABASE_URL
 * leaking in from the shell), the node flags of `npm start`, then `nodeFlags` (a deployment's
 * NODE_OPTIONS, to compare), then `--expose-gc` for settled memory figures; stdout/stderr inherited.
 */
export function startServerProcess(mode: ServerMode, env: Record<string, string> = {}, nodeFlags: readonly string[] = []): Promise<ServerHandle> {
  const child: ChildProcess = fork(join(__dirname, '..', 'server-process.js'), [mode], {
    env: { PATH: process.env.PATH ?? '', ...env },
    execArgv: [...startFlags(), ...nodeFlags, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const pending = new Map<number, (result: unknown) => void>();
  const failures = new Map<number, (err: Error) => void>();
  const request = <T>(msg: object) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      if (!child.connected) return reject(new Error('server process is gone'));
      pending.set(id, resolve as (r: unknown) => void);
      failures.set(id, reject);
      child.send({ id, ...msg });
    });
  // A server that dies (e.g. at its descriptor limit) fails every pending request instead of hanging the bench.
  child.once('exit', (code, signal) => {
    for (const fail of failures.values()) fail(new Error(`server process exited (${signal ?? code})`));
    failures.clear();
    pending.clear();
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`server process exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.on('message', (msg: { ready?: boolean; url?: string; id?: number; result?: unknown }) => {
      if (msg.ready) {
        child.off('exit', onExit);
        resolve({
          mode,
          url: msg.url!,
          pid: child.pid!,
          stats: async (gc = false) => ({ ...(await request<ServerStats>({ cmd: 'stats', gc })), ...procStats(child.pid!) }),
          profile: async () => {
            await request({ cmd: 'profile', action: 'start' });
            return async (path: string) => void (await request({ cmd: 'profile', action: 'stop', path }));
          },
          stop: async (graceMs = 20_000) => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const exited = new Promise<void>((r) => child.once('exit', () => r()));
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            request({ cmd: 'stop' }).catch(() => undefined);
            await exited;
            clearTimeout(timer);
          },
          kill: () => child.kill('SIGKILL'),
        });
      } else if (msg.id !== undefined) {
        pending.get(msg.id)?.(msg.result);
        pending.delete(msg.id);
        failures.delete(msg.id);
      }
    });
  });
}

/**
 * The same server in this process (`--layout inproc`): for comparison only, since the load generator
 * then competes with the server for the same event loop.
 */
export async function startServerInProcess(mode: ServerMode, env: Record<string, string> = {}): Promise<ServerHandle> {
  const { collectStats, procStats } = await import('./server-stats');
  let io: import('socket.io').Server;
  let url: string;
  let close: () => Promise<void>;
  if (mode === 'relay') {
    const { startRelay } = await import('./relay');
    const relay = await startRelay('127.0.0.1', 0);
    ({ io, url } = relay);
    close = relay.close;
  } else {
    const { createApp } = await import('../../src/app');
    const { loadConfig } = await import('../../src/config/config');
    const app = await createApp(loadConfig(env));
    url = await app.listen(0, '127.0.0.1');
    io = app.hub.io;
    close = () => app.close();
  }
  return {
    mode,
    url,
    pid: process.pid,
    stats: async (gc = false) => ({ ...collectStats(io, gc), ...procStats(process.pid) }),
    profile: async () => {
      throw new Error('--profile needs --layout child');
    },
    stop: () => close(),
    kill: () => undefined,
  };
}
