import type { IncomingMessage } from 'node:http';
import { Manager, type Socket as ClientSocket } from 'socket.io-client';
import { startServer, type TestServer } from '../helpers/server';
import { closeAllSockets, connect } from '../helpers/sockets';

// A connected socket keeps nothing of its handshake it no longer needs (src/hub/handshake-leftovers.ts):
// that is memory per idle agent, and the credential.

function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

describe('what a socket keeps of its handshake', () => {
  let s: TestServer;
  const managers: Manager[] = [];
  beforeAll(async () => {
    s = await startServer('sqlite');
  });
  afterAll(async () => {
    for (const m of managers) m.engine?.close();
    closeAllSockets();
    await s?.close();
  });

  it('an agent socket drops the raw headers and the auth payload, and still works', async () => {
    const agent = await s.api.agent(s.adminToken, 'leftovers-agent');
    const client = await connect(s.url, 'agents', { token: agent.token });
    const server = s.app.hub.io.of('/agents').sockets.get(client.socket.id!)!;
    const req = server.request as IncomingMessage;
    expect(req.rawHeaders).toEqual([]);
    expect(Object.keys(req.headers)).toEqual([]);
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
    expect((server.request as IncomingMessage).rawHeaders).toEqual([]);
    expect(Object.keys(server.handshake.headers)).toEqual(['authorization']);

    const monitor = manager.socket('/monitor');
    await connected(monitor);
    expect(monitor.connected).toBe(true);
    expect(s.app.hub.io.of('/monitor').sockets.get(monitor.id!)?.conn).toBe(server.conn);
  });
});
