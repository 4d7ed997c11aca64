import { closeAll, connect, createAgent, createHuman, dbKinds, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

warnIfPostgresSkipped('pipelining');

describe.each(dbKinds())('one socket sending without waiting for acks on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('an agent streaming a reply: chunks, the final CHAT and CHAT_STREAM_END arrive in the order sent', async () => {
    const member = await createHuman(s.api, s.adminToken, `m-${kind}`);
    const agent = await createAgent(s.api, s.adminToken, `a-${kind}`);
    const m = await connect(s.url, 'chat', { token: member.token });
    const a = await connect(s.url, 'agents', { token: agent.token });
    const sends = [];
    for (let round = 0; round < 5; round++) {
      const stream_id = `st-${round}`;
      sends.push(a.send({ type: 'CHAT_STREAM', target_id: member.user.id, stream_id, payload: 'part ' }));
      sends.push(a.send({ type: 'CHAT', target_id: member.user.id, stream_id, payload: `whole ${round}` }));
      sends.push(a.send({ type: 'CHAT_STREAM_END', target_id: member.user.id, stream_id }));
    }
    expect((await Promise.all(sends)).filter((x) => !x.ok)).toEqual([]);
    await m.waitFor((e) => e.type === 'CHAT_STREAM_END' && e.stream_id === 'st-4');
    const seen = m.received.filter((e) => e.type !== 'PRESENCE').map((e) => `${e.type}:${e.stream_id}`);
    const expected = [0, 1, 2, 3, 4].flatMap((r) => [`CHAT_STREAM:st-${r}`, `CHAT:st-${r}`, `CHAT_STREAM_END:st-${r}`]);
    expect(seen).toEqual(expected);
  });

  it('a burst of CHATs from one socket is stored, delivered and acked in the order sent', async () => {
    const member = await createHuman(s.api, s.adminToken, `burst-${kind}`);
    const peer = await createHuman(s.api, s.adminToken, `peer-${kind}`);
    const m = await connect(s.url, 'chat', { token: member.token });
    const p = await connect(s.url, 'chat', { token: peer.token });
    const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => m.send({ type: 'CHAT', target_id: peer.user.id, payload: i })));
    const ids = acks.map((x) => (x as { id: number }).id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    await p.waitFor((e) => e.payload === 59);
    expect(p.received.map((e) => e.payload)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  // Most CHATs (a known target, nothing waiting on the socket) are queued in the log at once, without
  // taking a turn in the socket's lane; these check that this never reorders a socket's messages.
  it('a CHAT queued at once is still delivered before the CHAT_STREAM_END sent right after it', async () => {
    const member = await createHuman(s.api, s.adminToken, `fast-m-${kind}`);
    const agent = await createAgent(s.api, s.adminToken, `fast-a-${kind}`);
    const m = await connect(s.url, 'chat', { token: member.token });
    const a = await connect(s.url, 'agents', { token: agent.token });
    expect((await a.send({ type: 'CHAT', target_id: member.user.id, payload: 'target is known now' })).ok).toBe(true);
    for (let round = 0; round < 5; round++) {
      const stream_id = `fast-${round}`;
      const sent = [
        a.send({ type: 'CHAT', target_id: member.user.id, stream_id, payload: `final ${round}` }),
        a.send({ type: 'CHAT_STREAM_END', target_id: member.user.id, stream_id }),
      ];
      expect((await Promise.all(sent)).map((x) => x.ok)).toEqual([true, true]);
    }
    await m.waitFor((e) => e.type === 'CHAT_STREAM_END' && e.stream_id === 'fast-4');
    const seen = m.received.filter((e) => e.stream_id?.startsWith('fast-')).map((e) => `${e.type}:${e.stream_id}`);
    expect(seen).toEqual([0, 1, 2, 3, 4].flatMap((r) => [`CHAT:fast-${r}`, `CHAT_STREAM_END:fast-${r}`]));
  });

  it('CHATs to targets not looked up yet, interleaved with CHATs to a known one, keep the order sent', async () => {
    const member = await createHuman(s.api, s.adminToken, `mixed-${kind}`);
    const known = await createHuman(s.api, s.adminToken, `mixed-known-${kind}`);
    const fresh = await Promise.all(Array.from({ length: 10 }, (_, i) => createHuman(s.api, s.adminToken, `mixed-new-${i}-${kind}`)));
    const m = await connect(s.url, 'chat', { token: member.token });
    expect((await m.send({ type: 'CHAT', target_id: known.user.id, payload: 'known now' })).ok).toBe(true);
    const sends = fresh.flatMap((f, i) => [
      m.send({ type: 'CHAT', target_id: f.user.id, payload: `new ${i}` }),
      m.send({ type: 'CHAT', target_id: known.user.id, payload: `known ${i}` }),
    ]);
    const acks = (await Promise.all(sends)) as { ok: boolean; id: number }[];
    expect(acks.every((x) => x.ok)).toBe(true);
    const ids = acks.map((x) => x.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
  });
});
