/**
 * Fault test (issue 4), a separate process: one replica on SQLite with Redis (a single replica may run
 * with REDIS_URL; every broadcast then goes through Redis and back). Its Redis connections go through
 * a proxy that closes the publisher's connection right after Redis has run a transaction, before
 * the replica hears the answer. The replica publishes again only what did not run: every acked
 * message reaches its target once, in id order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Api } from '../helpers/api';
import { sleep } from '../helpers/sockets';
import { ensureBuilt, killAll, RedisProxy, Replica } from './processes';
import { ackedCount, crossTraffic, expectDeliveredOnceInOrder, Roamer, settle, untilAcked } from './roamer';

const suite = 'cluster/sqlite-redis';
const run = process.env.REDIS_URL ? describe : describe.skip;
if (!process.env.REDIS_URL) process.stderr.write(`\n[${suite}] SKIPPED: needs REDIS_URL; nothing was tested\n`);

run('one replica on SQLite with Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'echocenter-sqlite-redis-'));
  const prefix = `ectest-${randomBytes(4).toString('hex')}`;
  let proxy: RedisProxy;
  let replica: Replica;
  let api: Api;
  let adminToken: string;
  const clients: Roamer[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    proxy = await RedisProxy.start(process.env.REDIS_URL!);
    replica = await Replica.start('sqlite', {
      NODE_ENV: 'test',
      DB_DRIVER: 'sqlite',
      SQLITE_PATH: join(dir, 'echocenter.db'),
      JWT_SECRET: 'cluster-test-secret-that-is-long-enough-for-hs256',
      LOG_LEVEL: 'warn',
      BCRYPT_ROUNDS: '4',
      REDIS_URL: proxy.url,
      REDIS_KEY_PREFIX: prefix,
    });
    api = new Api(replica.url);
    const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    adminToken = login.body.token;
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await killAll();
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('a transaction that ran but whose reply was lost is not published again: nothing is delivered twice', async () => {
    for (let i = 0; i < 2; i++) {
      const m = await api.human(adminToken, `member${i}`);
      const a = await api.agent(adminToken, `agent${i}`);
      clients.push(new Roamer(`member${i}`, 'chat', m.user.id, m.token, [replica.url]));
      clients.push(new Roamer(`agent${i}`, 'agents', a.agent.id, a.token, [replica.url]));
    }
    await Promise.all(clients.map((c) => c.start()));
    const flow = crossTraffic(clients);
    await untilAcked(clients, 20);
    for (let i = 0; i < 3; i++) {
      await proxy.dropAfterNextTransaction(`${prefix}:pub`);
      await untilAcked(clients, ackedCount(clients) + 20);
    }
    await flow.stop();

    const l = await settle(clients, 15_000);
    expectDeliveredOnceInOrder(clients, l);
  }, 90_000);

  it('and when the publisher stays away longer than a retry waits, what is published late leaves out what had run', async () => {
    const before = clients.length;
    for (let i = 0; i < 2; i++) {
      const m = await api.human(adminToken, `late-member${i}`);
      const a = await api.agent(adminToken, `late-agent${i}`);
      clients.push(new Roamer(`late-member${i}`, 'chat', m.user.id, m.token, [replica.url]));
      clients.push(new Roamer(`late-agent${i}`, 'agents', a.agent.id, a.token, [replica.url]));
    }
    const cast = clients.slice(before);
    await Promise.all(cast.map((c) => c.start()));
    const flow = crossTraffic(cast);
    await untilAcked(cast, 20);
    // The retry gives up after 5 s; the publisher is back after 7. The groups of those seconds are
    // kept and published late, in order, except the one whose transaction had run.
    await proxy.dropAfterNextTransaction(`${prefix}:pub`, 7_000);
    await untilAcked(cast, ackedCount(cast) + 20, 30_000);
    await sleep(8_000);
    await untilAcked(cast, ackedCount(cast) + 20);
    await flow.stop();

    const l = await settle(cast, 15_000);
    expect(cast.flatMap((c) => c.refused)).toEqual([]);
    expect(l.lost).toEqual([]);
    expect(l.duplicated).toEqual([]);
    // Only the publisher's connection broke: the replica never took Redis for stuck (that would drop
    // the subscriber too, and resynchronise every socket).
    expect(replica.tail.filter((line) => line.includes('redis stopped answering'))).toEqual([]);
  }, 90_000);
});
