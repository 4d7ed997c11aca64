import { ChatMessage } from '../../src/messages/chat-message.entity';
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, createAgent, createHuman, dbKinds, expectNoneOf, okAck, open, openWith, sleep, startTestApp, storedMessages, type TestApp, type TestClient, warnIfPostgresSkipped, withPayload } from '../support';
import { checkConnection, startSenders, visibleTo } from './replay-checks';

/** The stored messages a client received: envelopes without an id (PRESENCE, SYSTEM_LOG, stream chunks) are not part of a replay and may arrive during it. */
const stored = (c: { received: Envelope[] }) => c.received.filter((e) => e.id !== undefined);

type Person = { user: { id: number }; token: string };
type Bot = { agent: { id: number }; token: string };

describe.each(dbKinds())('replay by auth.last_id (PROTOCOL §5) on %s', (kind) => {
  let s: TestApp;
  let admin: Person;
  let alice: Person;
  let bob: Person;
  let carol: Person;
  let bot: Bot;
  let bot2: Bot;

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/replay');
    s = await startTestApp({ db: kind, env: { SOCKET_RATE_LIMIT: '100000/s,100000' } });
    const login = await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    admin = { user: login.body.user, token: login.body.token };
    alice = await createHuman(s.api, s.adminToken, 'alice');
    bob = await createHuman(s.api, s.adminToken, 'bob');
    carol = await createHuman(s.api, s.adminToken, 'carol');
    bot = await createAgent(s.api, s.adminToken, 'replaybot');
    bot2 = await createAgent(s.api, s.adminToken, 'replaybot2');
  });
  afterEach(() => closeAll());
  afterAll(() => s?.close());

  const visibleIds = async (userId: number, after: number) =>
    (await storedMessages(s.app)).filter((m) => m.id > after && visibleTo(userId)(m)).map((m) => m.id);
  const lastStoredId = async () => (await storedMessages(s.app)).reduce((max, m) => Math.max(max, m.id), 0);

  it('replays exactly the missed visible messages, ascending, then replay:done, then live messages', async () => {
    const [a, b, c, adm, x] = await Promise.all([
      openWith(s.url, 'chat', alice.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'chat', carol.token),
      openWith(s.url, 'chat', admin.token),
      openWith(s.url, 'agents', bot.token),
    ]);
    const seen = okAck(await b.send({ type: 'CHAT', target_id: alice.user.id, payload: 'already seen' })).id!;
    const visible = [
      okAck(await b.send({ type: 'CHAT', target_id: alice.user.id, payload: 'bob to alice' })).id,
      okAck(await x.send({ type: 'CHAT', target_id: alice.user.id, payload: 'bot to alice' })).id,
      okAck(await a.send({ type: 'CHAT', target_id: bob.user.id, payload: 'alice (other tab) to bob' })).id,
      okAck(await a.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'alice (other tab) to bot' })).id,
      okAck(await adm.send({ type: 'CHAT', payload: 'admin broadcast' })).id,
      okAck(await a.send({ type: 'CHAT', target_id: alice.user.id, payload: 'alice to herself' })).id,
    ];
    // Other people's private messages, stream chunks and system events are not replayed.
    okAck(await b.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'bob to bot' }));
    okAck(await x.send({ type: 'CHAT', target_id: bob.user.id, payload: 'bot to bob' }));
    okAck(await c.send({ type: 'CHAT', target_id: bob.user.id, payload: 'carol to bob' }));
    okAck(await adm.send({ type: 'CHAT', target_id: carol.user.id, payload: 'admin to carol' }));
    okAck(await x.send({ type: 'CHAT_STREAM', target_id: alice.user.id, stream_id: 'st', payload: 'chunk' }));
    okAck(await x.send({ type: 'SYSTEM_LOG', payload: { level: 'INFO', content: 'log line' } }));

    const replayer = await openWith(s.url, 'chat', alice.token, { last_id: seen });
    const done = await replayer.waitEvent('replay:done');
    expect(done).toEqual({ last_id: visible[visible.length - 1] });
    expect(stored(replayer).map((e) => e.id)).toEqual(visible);
    expect(visible).toEqual(await visibleIds(alice.user.id, seen));
    expect(stored(replayer).map((e) => e.payload)).toEqual([
      'bob to alice',
      'bot to alice',
      'alice (other tab) to bob',
      'alice (other tab) to bot',
      'admin broadcast',
      'alice to herself',
    ]);
    // Replayed envelopes are the stored ones, as history returns them.
    const history = (await s.api.get(`/api/chat/history/${bob.user.id}`, alice.token)).body as Envelope[];
    expect(stored(replayer)[0]).toEqual(history.find((e) => e.id === visible[0]));

    const live = okAck(await b.send({ type: 'CHAT', target_id: alice.user.id, payload: 'live after replay' }));
    await replayer.waitFor(withPayload('live after replay'));
    const order = replayer.events.filter((ev) => ev.event === 'replay:done' || (ev.data as Envelope)?.id !== undefined);
    expect(order.map((ev) => (ev.event === 'replay:done' ? 'done' : (ev.data as Envelope).id))).toEqual([...visible, 'done', live.id]);
  });

  it('replays for an agent on /agents: addressed to it, sent by it, broadcasts', async () => {
    const [b, x, adm] = await Promise.all([openWith(s.url, 'chat', bob.token), openWith(s.url, 'agents', bot2.token), openWith(s.url, 'chat', admin.token)]);
    const floor = await lastStoredId();
    okAck(await b.send({ type: 'CHAT', target_id: bot2.agent.id, payload: 'to bot2' }));
    okAck(await x.send({ type: 'CHAT', target_id: bob.user.id, payload: 'bot2 to bob' }));
    okAck(await adm.send({ type: 'CHAT', payload: 'broadcast for bot2' }));
    okAck(await b.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'not for bot2' }));
    okAck(await x.send({ type: 'CHAT', target_id: bot2.agent.id, payload: 'bot2 to itself' }));
    const replayer = await openWith(s.url, 'agents', bot2.token, { last_id: floor });
    await replayer.waitEvent('replay:done');
    expect(stored(replayer).map((e) => e.payload)).toEqual(['to bot2', 'bot2 to bob', 'broadcast for bot2', 'bot2 to itself']);
    expect(stored(replayer).map((e) => e.id)).toEqual(await visibleIds(bot2.agent.id, floor));
  });

  it('accepts last_id 0 and a numeric string, and answers a last_id beyond the log with an empty replay', async () => {
    const all = await visibleIds(carol.user.id, 0);
    const fromZero = await openWith(s.url, 'chat', carol.token, { last_id: 0 });
    expect(await fromZero.waitEvent('replay:done')).toEqual({ last_id: all[all.length - 1] });
    expect(stored(fromZero).map((e) => e.id)).toEqual(all);

    const fromString = await openWith(s.url, 'chat', carol.token, { last_id: String(all[0]) });
    await fromString.waitEvent('replay:done');
    expect(stored(fromString).map((e) => e.id)).toEqual(all.slice(1));

    for (const beyond of [(await lastStoredId()) + 1000, 2 ** 31, 2 ** 40]) {
      const ahead = await openWith(s.url, 'chat', carol.token, { last_id: beyond });
      expect(await ahead.waitEvent('replay:done')).toEqual({ last_id: beyond });
      expect(ahead.received.filter((e) => e.id !== undefined)).toEqual([]);
      expect(ahead.socket.connected).toBe(true);
    }
  });

  it('sends no replay and no replay:done without last_id', async () => {
    const plain = await openWith(s.url, 'chat', alice.token);
    await expectNoneOf([plain], (e) => e.id !== undefined, 300);
    expect(plain.events.some((ev) => ev.event === 'replay:done')).toBe(false);
  });

  it('pages through more than 500 missed messages while others keep sending: all of them once, in order, then live', async () => {
    const [b, x, x2] = await Promise.all([openWith(s.url, 'chat', bob.token), openWith(s.url, 'agents', bot.token), openWith(s.url, 'agents', bot2.token)]);
    const floor = await lastStoredId();
    // 1,500 missed messages (1,200 of them visible), written straight to the log to keep the test fast.
    const em = s.app.orm.em.fork();
    const row = (senderId: number, senderRole: 'MEMBER' | 'AGENT', targetId: number | null, payload: string) =>
      em.create(ChatMessage, { type: 'CHAT', localId: null, senderId, senderName: 'fixture', senderRole, targetId, audience: null, payload: JSON.stringify(payload), streamId: null, replyTo: null, createdAt: new Date() });
    for (let i = 0; i < 300; i++) {
      row(bob.user.id, 'MEMBER', alice.user.id, `bulk b ${i}`);
      row(alice.user.id, 'MEMBER', bot.agent.id, `bulk a ${i}`);
      row(bot2.agent.id, 'AGENT', carol.user.id, `invisible ${i}`);
      row(admin.user.id, 'MEMBER', null, `bulk broadcast ${i}`);
      row(bot.agent.id, 'AGENT', alice.user.id, `bulk x ${i}`);
    }
    await em.flush();
    const senders = startSenders([
      { client: b, target: alice.user.id, tag: 'during b' },
      { client: x, target: alice.user.id, tag: 'during x' },
      { client: x2, target: alice.user.id, tag: 'during x2' },
    ]);
    let replayer: TestClient;
    try {
      replayer = await openWith(s.url, 'chat', alice.token, { last_id: floor });
      await replayer.waitEvent('replay:done', 10_000);
      await sleep(100);
    } finally {
      await senders.stop();
    }
    const expected = await visibleIds(alice.user.id, floor);
    await replayer.waitFor((e) => e.id === expected[expected.length - 1], 10_000);
    const { ids, replayed } = checkConnection(replayer.events, floor);
    expect(replayed.length).toBeGreaterThanOrEqual(1_200);
    expect(ids.length).toBeGreaterThan(replayed.length);
    expect(ids).toEqual(expected);
  });

  it('resumes with the client’s own reconnection (auth as a function of the last id seen)', async () => {
    const b = await openWith(s.url, 'chat', bob.token);
    let lastSeen = await lastStoredId();
    const start = lastSeen;
    const client = await open(s.url, 'chat', {
      reconnection: true,
      reconnectionDelay: 50,
      auth: (cb) => cb({ token: alice.token, last_id: lastSeen }),
    });
    client.socket.on('message', (e: Envelope) => {
      if (e.id !== undefined) lastSeen = Math.max(lastSeen, e.id);
    });
    okAck(await b.send({ type: 'CHAT', target_id: alice.user.id, payload: 'before the drop' }));
    await client.waitFor(withPayload('before the drop'));
    client.socket.io.engine.close(); // a network drop: the client reconnects by itself
    await client.disconnected();
    const missed = okAck(await b.send({ type: 'CHAT', target_id: alice.user.id, payload: 'while away' }));
    await client.waitEvent('replay:done');
    await client.waitFor(withPayload('while away'));
    expect(client.received.filter((e) => e.id !== undefined).map((e) => e.id)).toEqual(await visibleIds(alice.user.id, start));
    expect(client.received.filter((e) => e.id === missed.id)).toHaveLength(1);
  });
});
