/**
 * Three replicas in one process over PostgreSQL and a bus (Redis, or the in-process MemoryCluster): every
 * routing, echo, presence and revoke rule of PROTOCOL §3-§5 with the parties on different replicas.
 *
 * The cast: alice (member) with A1 on R1 and A2 on R2; bob (member) on R3; the admin with ADM on R3,
 * ADM2 on R1 and the /monitor MON on R3; carol (admin) on R1; bot (agent) with X on R2 and X3 on R3;
 * bot2 (agent) on R1. Every test starts with empty recordings and uses its own payloads.
 */
import Redis from 'ioredis';
import type { AppDeps } from '../../src/app';
import { MemoryCluster } from '../../src/cluster/memory-cluster';
import type { LogFaults } from '../../src/messages/log/message-log.service';
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, createAgent, createDb, createHuman, eventually, newRedisPrefix, postgresUrl, redisUrl, expectRefused, okAck, open, openWith, refusal, sleep, startTestApp, type TestApp, type TestClient, type TestDb } from '../support';

type Bus = 'memory' | 'redis';

/** Says on stderr too that a variant did not run (jest drops the console of an all-skipped file). */
function skipped(suite: string, needs: string): void {
  const message = `[${suite}] SKIPPED: needs ${needs}; nothing was tested`;
  // eslint-disable-next-line no-console
  console.warn(message);
  process.stderr.write(`\n${message}\n`);
}

type Person = { user: { id: number; username: string }; token: string };
type Bot = { agent: { id: number; username: string }; token: string };

const chatWith = (payload: string) => (e: Envelope) => e.type === 'CHAT' && e.payload === payload;
const presenceOf = (id: number, online?: boolean) => (e: Envelope) =>
  e.type === 'PRESENCE' && (e.payload as { id: number }).id === id && (online === undefined || (e.payload as { online: boolean }).online === online);
const count = (c: TestClient, match: (e: Envelope) => boolean) => c.received.filter(match).length;

/** Waits for the first copy everywhere, then a little longer, and checks each got exactly one. */
async function expectOnceEach(clients: TestClient[], match: (e: Envelope) => boolean, settleMs = 400): Promise<Envelope[]> {
  const got = await Promise.all(clients.map((c) => c.waitFor(match, 5_000)));
  await sleep(settleMs);
  expect(clients.map((c) => count(c, match))).toEqual(clients.map(() => 1));
  return got;
}

function expectNoneNow(clients: TestClient[], match: (e: Envelope) => boolean): void {
  expect(clients.map((c) => count(c, match))).toEqual(clients.map(() => 0));
}

/**
 * The same rules over two buses: Redis (the production one), and the in-process MemoryCluster, so
 * that they run without Redis. Both need PostgreSQL: SQLite is one process's file.
 */
const buses: Bus[] = [...(postgresUrl ? (['memory'] as const) : []), ...(postgresUrl && redisUrl ? (['redis'] as const) : [])];
if (!buses.includes('redis')) skipped('cluster/replicas over Redis', 'DATABASE_URL (PostgreSQL) and REDIS_URL');
if (!buses.includes('memory')) skipped('cluster/replicas over the in-process bus', 'DATABASE_URL (PostgreSQL)');

(buses.length ? describe.each(buses) : describe.skip.each(['none']))('three replicas in one process over %s (PROTOCOL §3-§5 across replicas)', (bus) => {
  let db: TestDb;
  let keyPrefix: string;
  /** R1's message-log fault port (see sendWhileR1Dies). */
  const r1Faults: LogFaults = {};
  let R1: TestApp, R2: TestApp, R3: TestApp;
  let admin: Person, carol: Person, alice: Person, bob: Person, bot: Bot, bot2: Bot;
  let A1: TestClient, A2: TestClient, B: TestClient, ADM: TestClient, ADM2: TestClient, MON: TestClient, C: TestClient, X: TestClient, X3: TestClient, Y: TestClient;
  const everyone = () => [A1, A2, B, ADM, ADM2, MON, C, X, X3, Y];
  const except = (...skip: TestClient[]) => everyone().filter((c) => !skip.includes(c));
  const humansAndMonitor = () => [A1, A2, B, ADM, ADM2, MON, C];

  beforeAll(async () => {
    db = await createDb('postgres');
    keyPrefix = newRedisPrefix();
    // Over Redis: a shared key prefix. In process: one MemoryCluster, a link for each replica.
    const memory = bus === 'memory' ? new MemoryCluster() : undefined;
    const join = (deps: AppDeps = {}) =>
      memory ? startTestApp({ db, deps: { ...deps, cluster: memory.link() } }) : startTestApp({ db, redis: { prefix: keyPrefix }, deps });
    R1 = await join({ logFaults: r1Faults });
    [R2, R3] = await Promise.all([join(), join()]);
    const login = await R1.api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    admin = { user: login.body.user, token: login.body.token };
    carol = await createHuman(R1.api, R1.adminToken, 'carol', 'ADMIN');
    alice = await createHuman(R1.api, R1.adminToken, 'alice');
    bob = await createHuman(R2.api, R2.adminToken, 'bob');
    bot = await createAgent(R3.api, R3.adminToken, 'bot');
    bot2 = await createAgent(R1.api, R1.adminToken, 'bot2');
    [A1, A2, B, ADM, ADM2, MON, C, X, X3, Y] = await Promise.all([
      openWith(R1.url, 'chat', alice.token),
      openWith(R2.url, 'chat', alice.token),
      openWith(R3.url, 'chat', bob.token),
      openWith(R3.url, 'chat', admin.token),
      openWith(R1.url, 'chat', admin.token),
      openWith(R3.url, 'monitor', admin.token),
      openWith(R1.url, 'chat', carol.token),
      openWith(R2.url, 'agents', bot.token),
      openWith(R3.url, 'agents', bot.token),
      openWith(R1.url, 'agents', bot2.token),
    ]);
    await eventually(async () => (await R2.api.get('/api/users/agents/status', admin.token)).body.every((a: { online: boolean }) => a.online));
    await sleep(300);
  }, 60_000);

  beforeEach(() => {
    for (const c of everyone()) c.events.length = 0;
  });

  afterAll(async () => {
    closeAll();
    for (const s of [R1, R2, R3]) await s?.close();
    await db?.drop();
  }, 30_000);

  describe('CHAT routing', () => {
    it('member on R1 → agent on R2: both agent sockets (R2, R3) and the member’s tab on R2, once each; nobody else', async () => {
      const ack = okAck(await A1.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'm2a' }));
      const got = await expectOnceEach([X, X3, A2], chatWith('m2a'));
      for (const e of got) expect(e).toMatchObject({ id: ack.id, sender_id: alice.user.id, target_id: bot.agent.id });
      expectNoneNow(except(X, X3, A2), chatWith('m2a'));
    });

    it('agent on R2 → member: both of the member’s tabs (R1, R2); never the agent’s other socket on R3', async () => {
      const ack = okAck(await X.send({ type: 'CHAT', target_id: alice.user.id, payload: 'a2m' }));
      const got = await expectOnceEach([A1, A2], chatWith('a2m'));
      for (const e of got) expect(e).toMatchObject({ id: ack.id, sender_id: bot.agent.id, sender_role: 'AGENT' });
      expectNoneNow(except(A1, A2), chatWith('a2m'));
    });

    it('member on R2 → member on R3: the target and the sender’s tab on R1', async () => {
      okAck(await A2.send({ type: 'CHAT', target_id: bob.user.id, payload: 'm2m' }));
      await expectOnceEach([B, A1], chatWith('m2m'));
      expectNoneNow(except(B, A1), chatWith('m2m'));
    });

    it('agent on R1 → agent on R2/R3: the target agent’s sockets only', async () => {
      okAck(await Y.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'a2a' }));
      await expectOnceEach([X, X3], chatWith('a2a'));
      expectNoneNow(except(X, X3), chatWith('a2a'));
    });

    it('admin broadcast from R3 reaches every human and agent on every replica, the admin’s tab on R1, not the sending socket nor /monitor', async () => {
      const ack = okAck(await ADM.send({ type: 'CHAT', payload: 'to all' }));
      const got = await expectOnceEach([A1, A2, B, ADM2, C, X, X3, Y], chatWith('to all'));
      for (const e of got) expect(e).toMatchObject({ id: ack.id, target_id: null, sender_id: admin.user.id });
      expectNoneNow([ADM, MON], chatWith('to all'));
    });

    it('CHAT_STREAM from an agent on R2 reaches the member on R1 and R2, not the agent’s socket on R3', async () => {
      okAck(await X.send({ type: 'CHAT_STREAM', target_id: alice.user.id, payload: 'chunk', stream_id: 's1' }));
      const isChunk = (e: Envelope) => e.type === 'CHAT_STREAM' && e.stream_id === 's1';
      await expectOnceEach([A1, A2], isChunk);
      expectNoneNow(except(A1, A2), isChunk);
    });

    it('a streamed reply from an agent on R2 arrives in the order sent on the member’s tabs on R2 and R1: chunks, the stored CHAT, then CHAT_STREAM_END', async () => {
      // Pipelined, as an agent streams: nothing waits for an ack before the next send.
      const acks = [
        X.send({ type: 'CHAT_STREAM', target_id: alice.user.id, payload: 'par', stream_id: 's2' }),
        X.send({ type: 'CHAT_STREAM', target_id: alice.user.id, payload: 'tial', stream_id: 's2' }),
        X.send({ type: 'CHAT', target_id: alice.user.id, payload: 'partial', stream_id: 's2' }),
        X.send({ type: 'CHAT_STREAM_END', target_id: alice.user.id, payload: null, stream_id: 's2' }),
      ];
      for (const ack of await Promise.all(acks)) okAck(ack);
      const ofStream = (e: Envelope) => e.stream_id === 's2';
      for (const tab of [A2, A1]) {
        await tab.waitFor((e) => ofStream(e) && e.type === 'CHAT_STREAM_END');
        expect(tab.received.filter(ofStream).map((e) => e.type)).toEqual(['CHAT_STREAM', 'CHAT_STREAM', 'CHAT', 'CHAT_STREAM_END']);
      }
    });
  });

  describe('/monitor and /chat pushes', () => {
    it('SYSTEM_LOG from an agent on R2: every /chat socket and the monitor on R3, once; never agents', async () => {
      okAck(await X.send({ type: 'SYSTEM_LOG', payload: { level: 'INFO', content: 'disk ok' } }));
      const isLog = (e: Envelope) => e.type === 'SYSTEM_LOG' && (e.payload as { content: string }).content === 'disk ok';
      const got = await expectOnceEach(humansAndMonitor(), isLog);
      expect(got[0]).toMatchObject({ sender_id: bot.agent.id, payload: { agent_id: bot.agent.id, level: 'INFO' } });
      expect(got[0].id).toBeUndefined();
      expectNoneNow([X, X3, Y], isLog);
    });

    it('an admin’s POST /api/messages on R1 is pushed once to the monitor on R3 and every /chat socket', async () => {
      const res = await R1.api.post('/api/messages', { level: 'WARNING', content: 'rest log' }, admin.token);
      expect(res.status).toBe(201);
      const isLog = (e: Envelope) => e.type === 'SYSTEM_LOG' && (e.payload as { content: string }).content === 'rest log';
      const got = await expectOnceEach(humansAndMonitor(), isLog);
      expect(got[0].payload).toEqual(res.body);
      expectNoneNow([X, X3, Y], isLog);
    });

    it('AGENT_STATUS from R2: one PRESENCE with the status on each /chat socket and the monitor, none to agents', async () => {
      okAck(await X.send({ type: 'AGENT_STATUS', payload: { status: 'busy', report: 'indexing' } }));
      const got = await expectOnceEach(humansAndMonitor(), presenceOf(bot.agent.id));
      expect(got[0].payload).toMatchObject({ id: bot.agent.id, online: true, status: 'busy', last_report: 'indexing' });
      expect(got[0]).toMatchObject({ sender_id: 0, sender_role: 'SYSTEM' });
      expectNoneNow([X, X3, Y], presenceOf(bot.agent.id));
    });
  });

  describe('presence across replicas (PROTOCOL §4)', () => {
    it('announces online once when the first socket connects anywhere and offline once when the last leaves, whatever the replicas', async () => {
      const bot3 = await createAgent(R2.api, admin.token, 'bot3');
      const first = await openWith(R1.url, 'agents', bot3.token);
      await expectOnceEach(humansAndMonitor(), presenceOf(bot3.agent.id, true));
      expect((await R3.api.get(`/api/users/${bot3.agent.id}`, admin.token)).body.online).toBe(true);

      const second = await openWith(R3.url, 'agents', bot3.token);
      first.close();
      await sleep(600);
      expectNoneNow(humansAndMonitor(), presenceOf(bot3.agent.id, false));
      expect(count(MON, presenceOf(bot3.agent.id))).toBe(1);
      expect((await R2.api.get(`/api/users/${bot3.agent.id}`, admin.token)).body.online).toBe(true);

      second.close();
      const [off] = await expectOnceEach(humansAndMonitor(), presenceOf(bot3.agent.id, false));
      expect((off.payload as { last_seen_at: string | null }).last_seen_at).toEqual(expect.any(String));
      const listed = (await R1.api.get('/api/users/agents', admin.token)).body.find((a: { id: number }) => a.id === bot3.agent.id);
      expect(listed).toMatchObject({ online: false, last_seen_at: expect.any(String) });
      expectNoneNow([X, X3, Y], presenceOf(bot3.agent.id));
    });

    it('GET /api/users/agents on any replica shows agents connected elsewhere as online', async () => {
      for (const s of [R1, R2, R3]) {
        const list = (await s.api.get('/api/users/agents', alice.token)).body as { id: number; online: boolean }[];
        expect(list.find((a) => a.id === bot.agent.id)?.online).toBe(true);
        expect(list.find((a) => a.id === bot2.agent.id)?.online).toBe(true);
      }
    });
  });

  describe('disconnect-on-revoke across replicas', () => {
    it('DELETE /api/users/:id on R3 drops the member’s sockets on R1 and R2; their JWT is refused on every replica', async () => {
      const dave = await createHuman(R1.api, admin.token, 'dave');
      const d1 = await openWith(R1.url, 'chat', dave.token);
      const d2 = await openWith(R2.url, 'chat', dave.token);
      expect((await R3.api.delete(`/api/users/${dave.user.id}`, admin.token)).status).toBe(204);
      expect(await d1.disconnected(5_000)).toBe('io server disconnect');
      expect(await d2.disconnected(5_000)).toBe('io server disconnect');
      for (const s of [R1, R2, R3]) expect(await refusal(s.url, 'chat', { auth: { token: dave.token } })).toMatchObject({ message: 'unauthorized' });
    });

    it('a CHAT to a user just deleted on another replica is refused with NOT_FOUND, even when the sender’s replica looked them up before', async () => {
      const erin = await createHuman(R1.api, admin.token, 'erin-gone');
      okAck(await A1.send({ type: 'CHAT', target_id: erin.user.id, payload: 'before delete' }));
      expect((await R3.api.delete(`/api/users/${erin.user.id}`, admin.token)).status).toBe(204);
      await sleep(200);
      expectRefused(await A1.send({ type: 'CHAT', target_id: erin.user.id, payload: 'after delete' }), 'NOT_FOUND');
    });

    (bus === 'redis' ? it : it.skip)('a deletion whose notice a replica missed (its Redis subscriber was down) is noticed once that replica’s Redis comes back', async () => {
      const fred = await createHuman(R1.api, admin.token, 'fred-missed');
      okAck(await A1.send({ type: 'CHAT', target_id: fred.user.id, payload: 'cached' }));
      // Deleted behind every replica's back, as if the notice had been lost during an outage: R1 still
      // routes from its cache.
      await R2.app.orm.em.getConnection().getKnex()('users').where({ id: fred.user.id }).delete();
      okAck(await A1.send({ type: 'CHAT', target_id: fred.user.id, payload: 'still cached' }));
      const redis = new Redis(redisUrl!);
      try {
        const list = (await redis.client('LIST')) as string;
        const subs = list.split('\n').filter((l) => l.includes(` name=${keyPrefix}:sub `));
        expect(subs).toHaveLength(3);
        for (const line of subs) await redis.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]);
      } finally {
        redis.disconnect();
      }
      await eventually(async () => {
        expectRefused(await A1.send({ type: 'CHAT', target_id: fred.user.id, payload: 'after the outage' }), 'NOT_FOUND');
      }, 10_000);
    });

    it('DELETE /api/users/agents/:id on R1 drops the agent’s sockets on R2 and R3', async () => {
      const bot4 = await createAgent(R1.api, admin.token, 'bot4');
      const s2 = await openWith(R2.url, 'agents', bot4.token);
      const s3 = await openWith(R3.url, 'agents', bot4.token);
      expect((await R1.api.delete(`/api/users/agents/${bot4.agent.id}`, admin.token)).status).toBe(204);
      expect(await s2.disconnected(5_000)).toBe('io server disconnect');
      expect(await s3.disconnected(5_000)).toBe('io server disconnect');
      expect(await refusal(R2.url, 'agents', { auth: { token: bot4.token } })).toMatchObject({ message: 'unauthorized' });
    });

    it('PATCH /api/users/agents/:id/token on R1 drops the old token’s socket on R3; the old token is refused, the new one works, on any replica', async () => {
      const bot5 = await createAgent(R1.api, admin.token, 'bot5');
      const s3 = await openWith(R3.url, 'agents', bot5.token);
      const rotated = await R1.api.patch(`/api/users/agents/${bot5.agent.id}/token`, {}, admin.token);
      expect(rotated.status).toBe(200);
      expect(await s3.disconnected(5_000)).toBe('io server disconnect');
      expect(await refusal(R2.url, 'agents', { auth: { token: bot5.token } })).toMatchObject({ message: 'unauthorized' });
      const fresh = await openWith(R2.url, 'agents', rotated.body.api_token);
      expect(fresh.socket.connected).toBe(true);
      fresh.close();
    });
  });

  describe('replay on another replica (PROTOCOL §5)', () => {
    it('a member that leaves R1 and comes back on R3 with last_id gets what was sent via R2 meanwhile, in order, then replay:done, then live — once each', async () => {
      const fay = await createHuman(R1.api, admin.token, 'fay');
      const onR1 = await openWith(R1.url, 'chat', fay.token);
      const first = okAck(await X.send({ type: 'CHAT', target_id: fay.user.id, payload: 'seen live' }));
      await onR1.waitFor(chatWith('seen live'));
      onR1.close();

      const missed = [
        okAck(await X.send({ type: 'CHAT', target_id: fay.user.id, payload: 'missed 1' })),
        okAck(await A2.send({ type: 'CHAT', target_id: fay.user.id, payload: 'missed 2' })),
        okAck(await ADM2.send({ type: 'CHAT', payload: 'missed broadcast' })),
      ];
      okAck(await A2.send({ type: 'CHAT', target_id: bob.user.id, payload: 'not for fay' }));

      const back = await open(R3.url, 'chat', { auth: { token: fay.token, last_id: first.id } });
      const done = (await back.waitEvent('replay:done')) as { last_id: number };
      const live = okAck(await X.send({ type: 'CHAT', target_id: fay.user.id, payload: 'live after' }));
      await back.waitFor(chatWith('live after'));
      await sleep(300);

      expect(done.last_id).toBe(missed[2].id);
      const seq = back.events.filter((e) => e.event === 'message' || e.event === 'replay:done');
      expect(seq.map((e) => (e.event === 'message' ? (e.data as Envelope).id : 'done'))).toEqual([...missed.map((m) => m.id), 'done', live.id]);
    });
  });

  describe('a replica that dies between its commit and its publish', () => {
    /** alice sends from R1, which commits the message and then "dies": it never delivers nor acks it. */
    async function sendWhileR1Dies(envelope: Record<string, unknown>): Promise<{ ok: boolean }> {
      r1Faults.afterCommit = async () => {
        throw new Error('replica died after its commit');
      };
      try {
        return (await A1.send(envelope)) as { ok: boolean };
      } finally {
        r1Faults.afterCommit = undefined;
      }
    }

    it('the next replica to commit delivers the stranded message first: the target gets both, in id order, so last_id never jumps over it', async () => {
      const gil = await createHuman(R1.api, admin.token, 'gil');
      const onR3 = await openWith(R3.url, 'chat', gil.token);
      // R2 and R3 commit something first, so that neither is idle (an idle replica sweeps stranded
      // rows every 5 s: that is the next test) during the moment this one checks nothing arrived.
      okAck(await A2.send({ type: 'CHAT', target_id: bob.user.id, payload: 'R2 is busy' }));
      okAck(await B.send({ type: 'CHAT', target_id: alice.user.id, payload: 'R3 is busy' }));
      const stranded = await sendWhileR1Dies({ type: 'CHAT', target_id: gil.user.id, payload: 'stranded' });
      expect(stranded.ok).toBe(false);
      await sleep(300);
      expect(count(onR3, chatWith('stranded'))).toBe(0);

      const later = okAck(await ADM.send({ type: 'CHAT', target_id: gil.user.id, payload: 'later' }));
      await onR3.waitFor(chatWith('later'));
      await sleep(300);
      const got = onR3.received.filter((e) => e.type === 'CHAT');
      expect(got.map((e) => e.payload)).toEqual(['stranded', 'later']);
      expect(got[0].id).toBeLessThan(later.id!);
      expect(got[0]).toMatchObject({ sender_id: alice.user.id, target_id: gil.user.id });
      // alice's other tab gets the echo it would have had, and the message is in the log
      await A2.waitFor(chatWith('stranded'));
      const history = await R2.api.get(`/api/chat/history/${alice.user.id}`, gil.token);
      expect(history.status).toBe(200);
      expect(JSON.stringify(history.body)).toContain('"stranded"');
    });

    it('in a quiet moment, an idle replica sweeps the stranded message to its target within seconds, with no other traffic', async () => {
      const hal = await createHuman(R1.api, admin.token, 'hal');
      const onR2 = await openWith(R2.url, 'chat', hal.token);
      expect((await sendWhileR1Dies({ type: 'CHAT', target_id: hal.user.id, payload: 'quiet stranded' })).ok).toBe(false);
      const got = await onR2.waitFor(chatWith('quiet stranded'), 15_000);
      expect(got).toMatchObject({ sender_id: alice.user.id, target_id: hal.user.id });
      await sleep(300);
      expect(count(onR2, chatWith('quiet stranded'))).toBe(1);
    }, 20_000);
  });
});
