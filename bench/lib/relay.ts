import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Namespace } from 'socket.io';

/**
 * The baseline: a bare Socket.IO relay with no persistence, no auth and no validation. A client says
 * who it is in `auth.id`; a `message` goes to the room `user:<target_id>` in the namespace where that
 * user connected, and is acked at once with a made-up id. Same namespaces, transport and envelope as
 * EchoCenter, so the same client workload runs against both.
 */
export async function startRelay(host = '127.0.0.1', port = 0): Promise<{ url: string; io: Server; close(): Promise<void> }> {
  const server = createServer((_req, res) => res.writeHead(404).end());
  const io = new Server(server, { serveClient: false, maxHttpBufferSize: 1 << 20 });
  const home = new Map<number, Namespace>();
  let nextId = 0;
  for (const name of ['/chat', '/agents']) {
    const nsp = io.of(name);
    nsp.on('connection', (socket) => {
      const id = Number((socket.handshake.auth as { id?: unknown }).id);
      home.set(id, nsp);
      socket.join(`user:${id}`);
      socket.on('message', (envelope: { target_id?: number; local_id?: string }, ack?: (a: unknown) => void) => {
        const timestamp = new Date().toISOString();
        const out = { ...envelope, id: ++nextId, sender_id: id, timestamp };
        home.get(Number(envelope.target_id))?.to(`user:${envelope.target_id}`).emit('message', out);
        if (typeof ack === 'function') ack({ ok: true, id: out.id, local_id: envelope.local_id ?? null, timestamp });
      });
    });
  }
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    io,
    close: async () => {
      await io.close();
    },
  };
}
