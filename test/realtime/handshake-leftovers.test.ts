import { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Manager, type Socket as ClientSocket } from 'socket.io-client';
import { closeAll, connect, createAgent, startTestApp, type TestApp } from '../support';

// A connected socket keeps nothing of its handshake it no longer needs (src/hub/handshake-leftovers.ts):
// that is memory per idle agent, and the credential.

type EngineConn = { request: IncomingMessage | null; transport: { name: string } };

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

/** Resolves once the server's side of the connection runs on its websocket (its 'upgrade' has been emitted). */
async function upgraded(conn: EngineConn): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (conn.transport.name !== 'websocket' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(conn.transport.name).toBe('websocket');
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
    expect(server.request).toBeNull();
    expect(server.handshake.headers).toEqual({});
    expect(server.handshake.auth).toEqual({});
    expect(JSON.stringify(server.handshake)).not.toContain(agent.token);

    const admin = await connect(s.url, 'chat', { token: s.adminToken });
    const ack = await admin.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'still routable' });
    expect(ack.ok).toBe(true);
    await client.waitFor((e) => e.payload === 'still routable');
  });

  // The header is read from where handshake-leftovers.ts keeps it: the request (and so the
  // handshake's headers) is gone by the time any namespace connects.
  it.each([
    ['a websocket connection', ['websocket']],
    ['a long-polling connection after its upgrade', ['polling', 'websocket']],
  ] as const)('a second namespace on %s still authenticates with the Authorization header', async (_name, transports) => {
    const manager = new Manager(s.url, { transports: [...transports], reconnection: false, extraHeaders: { Authorization: `Bearer ${s.adminToken}` } });
    managers.push(manager);
    const chat = manager.socket('/chat');
    await connected(chat);
    const server = s.app.hub.io.of('/chat').sockets.get(chat.id!)!;
    expect(server.request).toBeNull();
    expect(server.handshake.headers).toEqual({});
    await upgraded(server.conn as unknown as EngineConn);

    const monitor = manager.socket('/monitor');
    await connected(monitor);
    expect(monitor.connected).toBe(true);
    expect(s.app.hub.io.of('/monitor').sockets.get(monitor.id!)?.conn).toBe(server.conn);
    // And the credential is the connection's: a third namespace it does not fit is refused.
    await expect(connected(manager.socket('/agents'))).rejects.toThrow('unauthorized');
  });

  it('nothing keeps the upgrade request of a connected socket alive, nor engine.io\'s stand-in response: both are garbage collected', async () => {
    const agent = await createAgent(s.api, s.adminToken, 'leftovers-collected');
    let request: WeakRef<IncomingMessage> | undefined;
    let standIn: WeakRef<object> | undefined;
    const engine = s.app.hub.io.engine;
    // Ahead of the hub's listener, which drops the request.
    const onConnection = (conn: EngineConn) => (request = new WeakRef(conn.request!));
    engine.prependListener('connection', onConnection);
    // The response engine.io hands its middlewares for an upgrade (this one runs after the hub's, for the rest of the file).
    engine.use((_req: unknown, res: object, next: () => void) => ((standIn = new WeakRef(res)), next()));
    try {
      const client = await connect(s.url, 'agents', { token: agent.token });
      expect(request?.deref()).toBeInstanceOf(IncomingMessage);
      expect(standIn?.deref()).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 50)); // a WeakRef holds its target for the current turn
      collectGarbage();
      expect(request?.deref()).toBeUndefined();
      expect(standIn?.deref()).toBeUndefined();
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
      await upgraded(s.app.hub.io.of('/agents').sockets.get(socket.id!)!.conn as unknown as EngineConn);
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
