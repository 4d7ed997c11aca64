import type { IncomingMessage } from 'node:http';
import type { BaseServer, Socket as EngineSocket } from 'engine.io';
import type { Socket } from 'socket.io';
import type { EngineIoInternals } from './engine-io.internals';

/**
 * The `Authorization` header of each connection's first request, for the namespaces that connect on
 * it later (handshake.ts): once the request is dropped, socket.io builds their `handshake` without
 * headers. Keyed by the engine.io connection, so it goes with it.
 */
const authorizationHeaders = new WeakMap<object, string>();

/**
 * Lets go of the requests that opened a connection, which engine.io would otherwise keep for the
 * connection's lifetime (an IncomingMessage with its stream state, headers and listeners; about
 * 1.6 KB a socket with the `auth` copy below: 32 MB at 20,000 idle agents, README → Benchmarks).
 *
 * - The first request: socket.io's documented memory-saving path, `conn.request = null` in
 *   engine.io's `connection` event (socket.io 4.8's `buildHandshake` tolerates it: a namespace's
 *   `handshake` then has no headers, url or query, which EchoCenter does not read). Only the
 *   `Authorization` header is kept, in a WeakMap.
 * - A websocket upgrade's request: held by engine.io's stand-in response for middlewares, released by
 *   the last engine middleware (the one internal: see engine-io.internals.ts).
 *
 * Register after WriteBatch.attach, whose `connection` listener still reads the request.
 */
export function dropHandshakeRequests(engine: BaseServer, internals: EngineIoInternals): void {
  engine.on('connection', (conn: EngineSocket) => {
    const header = conn.request?.headers.authorization;
    if (typeof header === 'string') authorizationHeaders.set(conn, header);
    (conn as { request: IncomingMessage | null }).request = null;
  });
  engine.use((req: IncomingMessage, res: object, next: () => void) => {
    internals.releaseUpgradeStandIn(req, res);
    next();
  });
}

/** The `Authorization` header the connection under `socket` opened with, if any. */
export function authorizationHeaderOf(socket: Socket): string | undefined {
  return authorizationHeaders.get(socket.conn);
}

/** Drops the handshake's copy of the `auth` payload, which holds the credential, once it has been read. */
export function dropAuthPayload(socket: Socket): void {
  socket.handshake.auth = {};
}
