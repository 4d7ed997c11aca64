import { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Manager, type Socket as ClientSocket } from 'socket.io-client';
import { closeAll, connect, createAgent, startTestApp, type TestApp } from '../support';

// A connected socket keeps nothing of its handshake it no longer needs (src/hub/handshake-leftovers.ts):
// that is memory per idle agent, and the credential.

/** A full garbage collection (a context made after `--expose-gc` is set has `gc`). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

describe('what a socket keeps of its handshake', () => {
  let s: TestApp;
  const managers: Manager[] = [];
  beforeAll(async () => {
    s = await startTestApp();
  });
  afterAll(async () => {
    for (const m of managers) m.engine?.close();
    closeAll();
    await s?.close();
  });

  it('an agent socket drops its upgrade request and the auth payload, and still works', async () => {
    const agent = await createAgent(s.api, s.adminToken, 'leftovers-agent');
    const client = await connect(s.url, 'agents', { token: agent.token });
    const server = s.app.hub.io.of('/agents').sockets.get(client.socket.id!)!;
    expect(server.request).not.toBeInstanceOf(IncomingMessage);
    expect(Object.keys(server.request)).toEqual(['headers', 'url', '_query', 'connection']);
    expect(Object.keys(server.request.headers)).toEqual([]);
    expect(server.handshake.auth).toEqual({});
    expect(JSON.stringify(server.handshake)).not.toContain(agent.token);

    const admin = await connect(s.url, 'chat', { token: s.adminToken });
    const ack = await admin.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'still routable' });
    expect(ack.ok).toBe(true);
    await client.waitFor((e) => e.payload === 'still routable');
  });

  it('a second namespace on the same connection still authenticates with the Authorization header', async () => {
    const manager = new Manager(s.url, {
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { Authorization: `Bearer ${s.adminToken}` },
    });
    managers.push(manager);
    const chat = manager.socket('/chat');
    await connected(chat);
    const server = s.app.hub.io.of('/chat').sockets.get(chat.id!)!;
    expect(server.request).not.toBeInstanceOf(IncomingMessage);
    expect(Object.keys(server.handshake.headers)).toEqual(['authorization']);

    const monitor = manager.socket('/monitor');
    await connected(monitor);
    expect(monitor.connected).toBe(true);
    expect(s.app.hub.io.of('/monitor').sockets.get(monitor.id!)?.conn).toBe(server.conn);
  });

  it('nothing keeps the upgrade request of a connected socket alive: it is garbage collected', async () => {
    const agent = await createAgent(s.api, s.adminToken, 'leftovers-collected');
    let request: WeakRef<IncomingMessage> | undefined;
    const engine = s.app.hub.io.engine;
    const onConnection = (conn: { request: IncomingMessage }) => (request = new WeakRef(conn.request));
    engine.on('connection', onConnection);
    try {
      const client = await connect(s.url, 'agents', { token: agent.token });
      expect(request?.deref()).toBeInstanceOf(IncomingMessage);
      await new Promise((resolve) => setTimeout(resolve, 50)); // a WeakRef holds its target for the current turn
      collectGarbage();
      expect(request?.deref()).toBeUndefined();
      expect(client.socket.connected).toBe(true);
    } finally {
      engine.off('connection', onConnection);
    }
  });

  it('nor that of a long-polling connection that upgrades to a websocket', async () => {
    const agent = await createAgent(s.api, s.adminToken, 'leftovers-upgraded');
    let upgrade: WeakRef<IncomingMessage> | undefined;
    const engine = s.app.hub.io.engine;
    const onHeaders = (_headers: unknown, req: IncomingMessage & { _query?: { transport?: string } }) => {
      if (req._query?.transport === 'websocket') upgrade = new WeakRef(req);
    };
    engine.on('headers', onHeaders);
    const manager = new Manager(s.url, { transports: ['polling', 'websocket'], reconnection: false });
    managers.push(manager);
    try {
      const socket = manager.socket('/agents', { auth: { token: agent.token } });
      await connected(socket);
      // The server's side of the connection has switched (its 'upgrade' event has been emitted).
      const conn = s.app.hub.io.of('/agents').sockets.get(socket.id!)!.conn;
      const deadline = Date.now() + 5_000;
      while (conn.transport.name !== 'websocket' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(conn.transport.name).toBe('websocket');
      expect(upgrade?.deref()).toBeInstanceOf(IncomingMessage);
      await new Promise((resolve) => setTimeout(resolve, 50));
      collectGarbage();
      expect(upgrade?.deref()).toBeUndefined();
      expect(socket.connected).toBe(true);
    } finally {
      engine.off('headers', onHeaders);
    }
  });
});
