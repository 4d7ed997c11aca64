import { closeAll, createAgent, createHuman, dbKinds, expectNoneOf, okAck, openWith, startTestApp, storedMessages, type TestApp, times, warnIfPostgresSkipped, withPayload } from '../support';

type Person = { user: { id: number }; token: string };

describe.each(dbKinds())('idempotent send by local_id (PROTOCOL §3.4) on %s', (kind) => {
  let s: TestApp;
  let alice: Person;
  let bob: Person;
  let bot: { agent: { id: number }; token: string };

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/idempotency');
    s = await startTestApp({ db: kind });
    alice = await createHuman(s.api, s.adminToken, 'alice');
    bob = await createHuman(s.api, s.adminToken, 'bob');
    bot = await createAgent(s.api, s.adminToken, 'idembot');
  });
  afterEach(() => closeAll());
  afterAll(() => s?.close());

  const rowsWith = async (senderId: number, localId: string) => (await storedMessages(s.app)).filter((m) => m.senderId === senderId && m.localId === localId);

  it('a resend with the same local_id acks the original id and timestamp, stores one row and delivers nothing again', async () => {
    const [a1, a2, b, x] = await Promise.all([
      openWith(s.url, 'chat', alice.token),
      openWith(s.url, 'chat', alice.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'agents', bot.token),
    ]);
    const first = okAck(await a1.send({ type: 'CHAT', target_id: bob.user.id, payload: 'once', local_id: 'dup-1' }));
    await b.waitFor(withPayload('once'));
    await a2.waitFor(withPayload('once'));
    // Again from the same tab, from the other tab, and with a different body: all the same message.
    const again = await a1.send({ type: 'CHAT', target_id: bob.user.id, payload: 'once', local_id: 'dup-1' });
    const otherTab = await a2.send({ type: 'CHAT', target_id: bob.user.id, payload: 'once', local_id: 'dup-1' });
    const changed = await a1.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'changed body', local_id: 'dup-1' });
    for (const ack of [again, otherTab, changed]) expect(ack).toEqual(first);
    await expectNoneOf([b, x], (e) => e.type === 'CHAT' && e.local_id === 'dup-1' && e.id !== first.id);
    expect(b.received.filter((e) => e.local_id === 'dup-1')).toHaveLength(1);
    expect(a2.received.filter((e) => e.local_id === 'dup-1')).toHaveLength(1);
    expect(a1.received.filter((e) => e.local_id === 'dup-1')).toHaveLength(0);
    expect(x.received).toEqual([]);
    const rows = await rowsWith(alice.user.id, 'dup-1');
    expect(rows.map((r) => ({ id: r.id, payload: r.payload, target: r.targetId }))).toEqual([{ id: first.id, payload: '"once"', target: bob.user.id }]);
  });

  it('concurrent sends with one local_id (same socket and two tabs, same commit group) store one message and deliver it once', async () => {
    const [a1, a2, b] = await Promise.all([openWith(s.url, 'chat', alice.token), openWith(s.url, 'chat', alice.token), openWith(s.url, 'chat', bob.token)]);
    const sends = [
      ...times(5, () => a1.send({ type: 'CHAT', target_id: bob.user.id, payload: 'race', local_id: 'dup-race' })),
      ...times(5, () => a2.send({ type: 'CHAT', target_id: bob.user.id, payload: 'race', local_id: 'dup-race' })),
    ];
    const acks = (await Promise.all(sends)).map(okAck);
    for (const ack of acks) expect(ack).toEqual(acks[0]);
    await b.waitFor(withPayload('race'));
    await expectNoneOf([b], (e) => e.local_id === 'dup-race' && e.id !== acks[0].id);
    expect(b.received.filter((e) => e.local_id === 'dup-race')).toHaveLength(1);
    expect(await rowsWith(alice.user.id, 'dup-race')).toHaveLength(1);
  });

  it('the same local_id from another sender is a different message', async () => {
    const [a, b, x] = await Promise.all([openWith(s.url, 'chat', alice.token), openWith(s.url, 'chat', bob.token), openWith(s.url, 'agents', bot.token)]);
    const fromAlice = okAck(await a.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'from alice', local_id: 'shared-id' }));
    const fromBob = okAck(await b.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'from bob', local_id: 'shared-id' }));
    const fromBot = okAck(await x.send({ type: 'CHAT', target_id: alice.user.id, payload: 'from bot', local_id: 'shared-id' }));
    expect(new Set([fromAlice.id, fromBob.id, fromBot.id]).size).toBe(3);
    expect(fromBob.id).toBeGreaterThan(fromAlice.id!);
    expect((await x.waitFor(withPayload('from alice'))).id).toBe(fromAlice.id);
    expect((await x.waitFor(withPayload('from bob'))).id).toBe(fromBob.id);
    expect((await a.waitFor(withPayload('from bot'))).id).toBe(fromBot.id);
    const rows = (await storedMessages(s.app)).filter((m) => m.localId === 'shared-id');
    expect(rows.map((r) => r.senderId).sort()).toEqual([alice.user.id, bob.user.id, bot.agent.id].sort());
  });

  it('a resend after a reconnect (the ack was lost) gets the original id and is not delivered again', async () => {
    const b = await openWith(s.url, 'chat', bob.token);
    const x = await openWith(s.url, 'agents', bot.token);
    const first = await openWith(s.url, 'chat', alice.token);
    const original = okAck(await first.send({ type: 'CHAT', target_id: bob.user.id, payload: 'lost ack', local_id: 'after-reconnect' }));
    const fromBot = okAck(await x.send({ type: 'CHAT', target_id: bob.user.id, payload: 'bot lost ack', local_id: 'bot-after-reconnect' }));
    first.close();
    x.close();
    await b.waitFor(withPayload('bot lost ack'));

    const second = await openWith(s.url, 'chat', alice.token);
    const x2 = await openWith(s.url, 'agents', bot.token);
    expect(await second.send({ type: 'CHAT', target_id: bob.user.id, payload: 'lost ack', local_id: 'after-reconnect' })).toEqual(original);
    expect(await x2.send({ type: 'CHAT', target_id: bob.user.id, payload: 'bot lost ack', local_id: 'bot-after-reconnect' })).toEqual(fromBot);
    await expectNoneOf([b], (e) => e.type === 'CHAT' && e.id !== original.id && e.id !== fromBot.id);
    expect(b.received.filter((e) => e.payload === 'lost ack')).toHaveLength(1);
    expect(b.received.filter((e) => e.payload === 'bot lost ack')).toHaveLength(1);
    expect(await rowsWith(alice.user.id, 'after-reconnect')).toHaveLength(1);
    expect(await rowsWith(bot.agent.id, 'bot-after-reconnect')).toHaveLength(1);
  });

  it('a duplicate is not replayed twice either: history and replay hold the message once', async () => {
    const a = await openWith(s.url, 'chat', alice.token);
    const ack = okAck(await a.send({ type: 'CHAT', target_id: bob.user.id, payload: 'replay once', local_id: 'replay-dup' }));
    okAck(await a.send({ type: 'CHAT', target_id: bob.user.id, payload: 'replay once', local_id: 'replay-dup' }));
    const replayer = await openWith(s.url, 'chat', bob.token, { last_id: ack.id! - 1 });
    await replayer.waitEvent('replay:done');
    expect(replayer.received.filter((e) => e.local_id === 'replay-dup').map((e) => e.id)).toEqual([ack.id]);
    const history = (await s.api.get(`/api/chat/history/${alice.user.id}?limit=200`, bob.token)).body as { local_id: string }[];
    expect(history.filter((e) => e.local_id === 'replay-dup')).toHaveLength(1);
  });
});
