import type { Socket } from 'socket.io';
import { io } from 'socket.io-client';
import { closeAll, connect, createAgent, createHuman, startTestApp, type TestApp, type TestClient } from '../support';

// The frames a connection gets in one turn of the event loop (a commit group's deliveries and acks)
// leave the server in one write (src/hub/write-batch.ts). Database-independent: SQLite only.

/** Counts the writes the server makes on the TCP socket under a client's websocket. */
function countWrites(s: TestApp, nsp: 'chat' | 'agents', client: Pick<TestClient, 'socket'>): { writes: number } {
  const server = s.app.hub.io.of(`/${nsp}`).sockets.get(client.socket.id!) as Socket;
  const raw = (server.conn as unknown as { transport: { socket: { _socket: Record<string, (...a: unknown[]) => unknown> } } }).transport.socket._socket;
  const counter = { writes: 0 };
  for (const method of ['_write', '_writev']) {
    const original = raw[method];
    raw[method] = function (this: unknown, ...args: unknown[]) {
      counter.writes++;
      return original.apply(this, args);
    };
  }
  return counter;
}

describe('frames of one event-loop turn go out in one write', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp();
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it("a burst from one socket: its acks and the target's deliveries take far fewer writes than frames, in order", async () => {
    const sender = await createHuman(s.api, s.adminToken, 'burst-sender');
    const peer = await createHuman(s.api, s.adminToken, 'burst-peer');
    const m = await connect(s.url, 'chat', { token: sender.token });
    const p = await connect(s.url, 'chat', { token: peer.token });
    await m.send({ type: 'CHAT', target_id: peer.user.id, payload: 'warm-up' });
    await p.waitFor((e) => e.payload === 'warm-up');
    const senderWrites = countWrites(s, 'chat', m);
    const peerWrites = countWrites(s, 'chat', p);

    const acks = await Promise.all(Array.from({ length: 40 }, (_, i) => m.send({ type: 'CHAT', target_id: peer.user.id, payload: i })));
    await p.waitFor((e) => e.payload === 39);

    const ids = acks.map((a) => (a as { id: number }).id);
    expect(acks.every((a) => a.ok)).toBe(true);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(p.received.filter((e) => typeof e.payload === 'number').map((e) => e.payload)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // One frame per write would be 40 each; a group's frames share one.
    expect(senderWrites.writes).toBeGreaterThan(0);
    expect(senderWrites.writes).toBeLessThanOrEqual(10);
    expect(peerWrites.writes).toBeLessThanOrEqual(10);
  });

  it('many senders at once: the target gets their messages in fewer writes, each exactly once', async () => {
    const target = await createAgent(s.api, s.adminToken, 'many-target');
    const a = await connect(s.url, 'agents', { token: target.token });
    const senders = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const u = await createHuman(s.api, s.adminToken, `many-sender-${i}`);
        return connect(s.url, 'chat', { token: u.token });
      }),
    );
    await senders[0].send({ type: 'CHAT', target_id: target.agent.id, payload: 'warm-up' });
    await a.waitFor((e) => e.payload === 'warm-up');
    const writes = countWrites(s, 'agents', a);

    const acks = await Promise.all(senders.map((c, i) => c.send({ type: 'CHAT', target_id: target.agent.id, payload: `from ${i}` })));
    expect(acks.every((x) => x.ok)).toBe(true);
    await Promise.all(senders.map((_, i) => a.waitFor((e) => e.payload === `from ${i}`)));
    const got = a.received.filter((e) => String(e.payload).startsWith('from '));
    expect(got).toHaveLength(12);
    expect(got.map((e) => e.id)).toEqual([...got.map((e) => e.id!)].sort((x, y) => x - y));
    expect(writes.writes).toBeLessThanOrEqual(6);
  });

  it('a long-polling connection that upgrades is coalesced on its websocket too', async () => {
    const sender = await createHuman(s.api, s.adminToken, 'upgraded-sender');
    const peer = await createHuman(s.api, s.adminToken, 'upgraded-peer');
    const m = await connect(s.url, 'chat', { token: sender.token });
    const socket = io(`${s.url}/chat`, { auth: { token: peer.token }, transports: ['polling', 'websocket'], reconnection: false, forceNew: true });
    try {
      const received: unknown[] = [];
      socket.on('message', (e: { payload: unknown }) => received.push(e.payload));
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
      const conn = (s.app.hub.io.of('/chat').sockets.get(socket.id!) as Socket).conn;
      for (const deadline = Date.now() + 5_000; conn.transport.name !== 'websocket' && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(conn.transport.name).toBe('websocket');
      const peerWrites = countWrites(s, 'chat', { socket } as Pick<TestClient, 'socket'>);

      const acks = await Promise.all(Array.from({ length: 40 }, (_, i) => m.send({ type: 'CHAT', target_id: peer.user.id, payload: i })));
      expect(acks.every((a) => a.ok)).toBe(true);
      for (const deadline = Date.now() + 5_000; received.length < 40 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(received).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(peerWrites.writes).toBeGreaterThan(0);
      expect(peerWrites.writes).toBeLessThanOrEqual(10);
    } finally {
      socket.disconnect();
    }
  });
});
