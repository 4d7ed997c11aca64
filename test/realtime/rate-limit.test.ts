import type { Ack } from '../../src/shared/protocol';
import { closeAll, createAgent, createHuman, dbKinds, expectNoneOf, expectRefused, okAck, openWith, rowCounts, sleep, startTestApp, storedMessages, type TestApp, times, warnIfPostgresSkipped, withPayload } from '../support';

/** 5 messages a second, bursts of 10. */
const LIMIT = '5/s,10';

describe.each(dbKinds())(`per-socket rate limit (SOCKET_RATE_LIMIT=${LIMIT}) on %s`, (kind) => {
  let s: TestApp;
  let alice: { user: { id: number }; token: string };
  let bob: { user: { id: number }; token: string };
  let bot: { agent: { id: number }; token: string };

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/rate-limit');
    s = await startTestApp({ db: kind, env: { SOCKET_RATE_LIMIT: LIMIT } });
    alice = await createHuman(s.api, s.adminToken, 'alice');
    bob = await createHuman(s.api, s.adminToken, 'bob');
    bot = await createAgent(s.api, s.adminToken, 'limited-bot');
  });
  afterEach(() => closeAll());
  afterAll(() => s?.close());

  it('refuses a burst beyond 10 with RATE_LIMITED, stores and delivers none of those, and the socket stays usable', async () => {
    const [a, b] = await Promise.all([openWith(s.url, 'chat', alice.token), openWith(s.url, 'chat', bob.token)]);
    const before = await rowCounts(s.app);
    // 25 frames emitted at once reach the server well within one refill interval (200 ms).
    const acks: Ack[] = await Promise.all(times(25, (i) => a.send({ type: 'CHAT', target_id: bob.user.id, payload: `burst ${i}`, local_id: `burst-${i}` })));
    expect(acks.slice(0, 10).every((x) => x.ok)).toBe(true);
    for (const x of acks.slice(10)) expectRefused(x, 'RATE_LIMITED');
    expect(a.socket.connected).toBe(true);

    await b.waitFor(withPayload('burst 9'));
    await expectNoneOf([b], (e) => typeof e.payload === 'string' && /^burst (1\d|2\d)$/.test(e.payload));
    expect(b.received.filter((e) => String(e.payload).startsWith('burst ')).map((e) => e.payload)).toEqual(times(10, (i) => `burst ${i}`));
    expect(await rowCounts(s.app)).toEqual({ ...before, chat: before.chat + 10 });
    const stored = (await storedMessages(s.app)).filter((m) => m.localId?.startsWith('burst-')).map((m) => m.localId);
    expect(stored).toEqual(times(10, (i) => `burst-${i}`));

    // Tokens come back at 5 a second: after 450 ms at least two messages go through again.
    await sleep(450);
    okAck(await a.send({ type: 'CHAT', target_id: bob.user.id, payload: 'after the pause 1' }));
    okAck(await a.send({ type: 'CHAT', target_id: bob.user.id, payload: 'after the pause 2' }));
    await b.waitFor(withPayload('after the pause 2'));
  });

  it('limits each socket on its own: another tab of the same user is not slowed down', async () => {
    const [a1, a2, b] = await Promise.all([openWith(s.url, 'chat', alice.token), openWith(s.url, 'chat', alice.token), openWith(s.url, 'chat', bob.token)]);
    const flood = await Promise.all(times(15, (i) => a1.send({ type: 'CHAT', target_id: bob.user.id, payload: `flood ${i}` })));
    expect(flood.filter((x) => !x.ok)).toHaveLength(5);
    const fresh = await Promise.all(times(10, (i) => a2.send({ type: 'CHAT', target_id: bob.user.id, payload: `fresh ${i}` })));
    expect(fresh.every((x) => x.ok)).toBe(true);
    await b.waitFor(withPayload('fresh 9'));
  });

  it('limits agents too, for every type: refused SYSTEM_LOG entries are not stored', async () => {
    const x = await openWith(s.url, 'agents', bot.token);
    const before = await rowCounts(s.app);
    const acks = await Promise.all([
      ...times(14, (i) => x.send({ type: 'SYSTEM_LOG', payload: { level: 'INFO', content: `log ${i}` } })),
      x.send({ type: 'CHAT_STREAM', target_id: alice.user.id, stream_id: 's', payload: 'chunk' }),
    ]);
    expect(acks.slice(0, 10)).toEqual(times(10, () => ({ ok: true })));
    for (const ack of acks.slice(10)) expectRefused(ack, 'RATE_LIMITED');
    expect(await rowCounts(s.app)).toEqual({ ...before, logs: before.logs + 10 });
    expect(x.socket.connected).toBe(true);
  });

  it('counts malformed frames as well, so a junk flood cannot bypass the limit', async () => {
    const a = await openWith(s.url, 'chat', alice.token);
    const acks = await Promise.all([...times(12, () => a.send({ type: 'NOPE' })), a.send({ type: 'CHAT', target_id: bob.user.id, payload: 'valid but late' })]);
    for (const ack of acks.slice(0, 10)) expectRefused(ack, 'VALIDATION_ERROR');
    for (const ack of acks.slice(10)) expectRefused(ack, 'RATE_LIMITED');
  });
});
