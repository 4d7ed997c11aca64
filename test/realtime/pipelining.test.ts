import { dbKinds, warnIfPostgresSkipped } from '../helpers/db';
import { startServer, type TestServer } from '../helpers/server';
import { closeAllSockets, connect } from '../helpers/sockets';

warnIfPostgresSkipped('pipelining');

describe.each(dbKinds())('one socket sending without waiting for acks on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => {
    closeAllSockets();
    await s?.close();
  });

  it('an agent streaming a reply: chunks, the final CHAT and CHAT_STREAM_END arrive in the order sent', async () => {
    const member = await s.api.human(s.adminToken, `m-${kind}`);
    const agent = await s.api.agent(s.adminToken, `a-${kind}`);
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
    const member = await s.api.human(s.adminToken, `burst-${kind}`);
    const peer = await s.api.human(s.adminToken, `peer-${kind}`);
    const m = await connect(s.url, 'chat', { token: member.token });
    const p = await connect(s.url, 'chat', { token: peer.token });
    const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => m.send({ type: 'CHAT', target_id: peer.user.id, payload: i })));
    const ids = acks.map((x) => (x as { id: number }).id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    await p.waitFor((e) => e.payload === 59);
    expect(p.received.map((e) => e.payload)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });
});
