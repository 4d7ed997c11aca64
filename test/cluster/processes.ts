/**
 * Separate-process helpers for the cluster fault tests: the build of `dist/`, free ports, replicas
 * spawned with `node dist/src/main.js`, and a private redis-server that a test may kill. Every child
 * is registered so that `killAll()` (in afterAll, also after a failure) leaves nothing running.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { newRedisPrefix, postgresDb, RestClient, sleep, TEST_ENV, type TestDb } from '../support';

export const ROOT = join(__dirname, '..', '..');
const DIST_MAIN = join(ROOT, 'dist', 'src', 'main.js');
const STAMP = join(ROOT, 'dist', '.cluster-build-stamp');
const LOCK = join(ROOT, 'dist', '.cluster-build-lock');
const SOURCES = ['src', 'migrations', 'mikro-orm.config.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

const children = new Set<ChildProcess>();

function newestMtime(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

function stale(): boolean {
  const stamp = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return !statSync(DIST_MAIN, { throwIfNoEntry: false }) || Math.max(...SOURCES.map((s) => newestMtime(join(ROOT, s)))) > stamp;
}

/**
 * Builds `dist/` with `tsc -p tsconfig.build.json` when a source is newer than the last build made
 * here. A lock directory keeps two test files (Jest workers) from building at the same time.
 */
export async function ensureBuilt(): Promise<void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // another worker builds; a lock older than 3 minutes was left by a killed run
      const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 180_000) rmSync(LOCK, { recursive: true, force: true });
      await sleep(200);
    }
  }
  try {
    if (!stale()) return;
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT }, (err, stdout, stderr) =>
        err ? reject(new Error(`the build failed:\n${stdout}${stderr}`)) : resolve(),
      );
    });
    writeFileSync(STAMP, new Date().toISOString());
    // eslint-disable-next-line no-console
    console.log(`[cluster] built dist/ in ${Date.now() - started} ms`);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** A TCP port that was free a moment ago (bound on port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function track(child: ChildProcess, name: string, tail: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  children.add(child);
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) tail.push(`[${name}] ${line}`);
    if (tail.length > 200) tail.splice(0, tail.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
}

/** One EchoCenter replica: `node dist/src/main.js` with its own port and the shared environment. */
export class Replica {
  readonly tail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly name: string,
    readonly url: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = track(proc, name, this.tail);
    void this.exited.then((info) => (this.exitInfo = info));
  }

  /** Spawns a replica and waits until its /readyz answers 200. */
  static async start(name: string, env: Record<string, string>, readyTimeoutMs = 30_000): Promise<Replica> {
    const port = await freePort();
    const proc = spawn(process.execPath, [DIST_MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const replica = new Replica(name, `http://127.0.0.1:${port}`, proc);
    await replica.waitReady(readyTimeoutMs);
    return replica;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** GET /readyz: the status, or 0 when nothing answers. */
  async readyz(timeoutMs = 1_000): Promise<number> {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.readyz()) !== 200) {
      if (!this.alive) throw new Error(`${this.name} exited before it was ready: ${JSON.stringify(this.exitInfo)}\n${this.tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${this.name} not ready within ${timeoutMs} ms\n${this.tail.join('\n')}`);
      await sleep(100);
    }
  }

  /** The exit code and signal, or undefined when the process still runs after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }
}

/** A private redis-server (no persistence) on a free port, for tests that kill and restart Redis. */
export class OwnRedis {
  readonly tail: string[] = [];
  private proc: ChildProcess | undefined;
  private exited: Promise<unknown> | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on the same port (again) and waits until it accepts connections. */
  async restart(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.exited = track(proc, `redis:${this.port}`, this.tail);
    const deadline = Date.now() + 10_000;
    while (!this.tail.some((l) => l.includes('Ready to accept connections'))) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`redis-server did not start:\n${this.tail.join('\n')}`);
      await sleep(20);
    }
    this.tail.length = 0;
  }

  /** SIGKILL: no goodbye to any client. */
  async kill(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** SIGKILLs every child still running and waits for them (afterAll, also after a failed test). */
export async function killAll(): Promise<void> {
  await Promise.all([...proxies].map((p) => p.close()));
  const waits = [...children].map(
    (c) =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

// Last resort when Jest tears the worker down without running afterAll.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Replicas that share one fresh PostgreSQL database and one Redis key prefix. */
export interface Cluster {
  db: TestDb;
  /** Environment shared by every replica of this cluster. */
  env: Record<string, string>;
  replicas: Replica[];
  api: RestClient;
  adminToken: string;
}

/**
 * Starts `n` replicas (`node dist/src/main.js`) on a fresh database with a unique key prefix. The first
 * one runs the migrations; the others start together.
 */
export async function startCluster(n: number, redisUrl: string): Promise<Cluster> {
  const db = await postgresDb();
  const env = replicaEnv({ ...db.env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: newRedisPrefix() });
  const first = await Replica.start('r1', env);
  const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) => Replica.start(`r${i + 2}`, env)));
  const api = new RestClient(first.url);
  const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
  if (login.status !== 200) throw new Error(`admin login failed: ${login.status} ${login.text}`);
  return { db, env, replicas: [first, ...rest], api, adminToken: login.body.token };
}

export const SHUTDOWN_TIMEOUT_MS = 5_000;

/**
 * The environment of a separate-process replica: the kit's test environment, warnings logged (a
 * child's tail is printed when it fails), a shutdown deadline the SIGTERM tests wait on, `overrides` last.
 */
export function replicaEnv(overrides: Record<string, string>): Record<string, string> {
  return { ...TEST_ENV, LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms`, ...overrides };
}

/** `describe` when PostgreSQL and Redis are configured; otherwise `describe.skip` with a loud warning. */
export function describeCluster(suite: string): jest.Describe {
  if (process.env.REDIS_URL && process.env.DATABASE_URL) return describe;
  const message = `[${suite}] SKIPPED: the cluster tests need DATABASE_URL (PostgreSQL) and REDIS_URL; nothing was tested`;
  // eslint-disable-next-line no-console
  console.warn(message);
  // Jest drops the console output of a file whose tests are all skipped: say it on stderr as well.
  process.stderr.write(`\n${message}\n`);
  return describe.skip;
}

const proxies = new Set<RedisProxy>();

/**
 * A TCP proxy in front of Redis for one replica: `cut()` drops its connections and refuses new
 * ones (that replica alone loses Redis), `mend()` lets it reconnect.
 */
export class RedisProxy {
  private cutOff = false;
  private readonly conns = new Set<Socket>();
  private readonly clients = new Map<Socket, Socket>();
  /** Client connections by the name they gave themselves (CLIENT SETNAME). */
  private readonly names = new Map<Socket, string>();
  private dropAfterTransaction?: { name: string; refuseMs: number; dropped: () => void };
  /** Connections that name themselves this are closed until `until` (see dropAfterNextTransaction). */
  private refused?: { name: string; until: number };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(redisUrl: string): Promise<RedisProxy> {
    const target = new URL(redisUrl);
    let proxy!: RedisProxy;
    const server = createServer((client) => {
      if (proxy.cutOff) return client.destroy();
      const upstream = connectTcp(Number(target.port || 6379), target.hostname);
      const end = () => {
        for (const s of [client, upstream]) {
          s.destroy();
          proxy.conns.delete(s);
        }
      };
      for (const s of [client, upstream]) {
        proxy.conns.add(s);
        s.on('error', end).on('close', end);
      }
      proxy.clients.set(client, upstream);
      client.on('close', () => {
        proxy.clients.delete(client);
        proxy.names.delete(client);
      });
      client.on('data', (chunk: Buffer) => {
        if (proxy.names.has(client)) return;
        const name = /SETNAME\r\n\$\d+\r\n([^\r]+)\r\n/i.exec(chunk.toString('latin1'))?.[1];
        if (name) proxy.names.set(client, name);
        if (name && name === proxy.refused?.name && Date.now() < proxy.refused.until) end();
      });
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        const armed = proxy.dropAfterTransaction;
        // Redis has run the transaction (its replies are the QUEUEDs and EXEC's) or the PUBLISH (a
        // number), and its answer never reaches the replica.
        if (armed && proxy.names.get(client) === armed.name && (chunk.includes('+QUEUED') || chunk[0] === 0x3a)) {
          proxy.dropAfterTransaction = undefined;
          proxy.refused = { name: armed.name, until: Date.now() + armed.refuseMs };
          end();
          armed.dropped();
        } else client.write(chunk);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new RedisProxy(server, `redis://127.0.0.1:${(server.address() as { port: number }).port}`);
    proxies.add(proxy);
    return proxy;
  }

  /**
   * The next time Redis answers a MULTI or a PUBLISH on the connection named `name`, closes that
   * connection instead of passing the answer on: the command ran, and the replica cannot know. For
   * `refuseMs` after that, a new connection of that name is closed as soon as it names itself.
   */
  dropAfterNextTransaction(name: string, refuseMs = 0): Promise<void> {
    return new Promise((dropped) => (this.dropAfterTransaction = { name, refuseMs, dropped }));
  }

  /** Stops forwarding what the replica sends: its commands stay in flight, unanswered. */
  hold(): void {
    for (const [client, upstream] of this.clients) {
      client.unpipe(upstream);
      client.pause();
    }
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.conns) s.destroy();
  }

  mend(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    proxies.delete(this);
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
