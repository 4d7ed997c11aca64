import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
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
 * - A websocket upgrade's request: held by engine.io's stand-in response for middlewares through a
 *   `close` listener on the TCP socket, removed by the last engine middleware (an internal: see
 *   engine-io.internals.ts).
 *
 * Register after WriteBatch.attach, whose `connection` listener still reads the request, and after
 * engine.io has attached to `httpServer`.
 */
export function dropHandshakeRequests(httpServer: HttpServer, engine: BaseServer, internals: EngineIoInternals): void {
  httpServer.prependListener('upgrade', (_req: IncomingMessage, tcp: Duplex) => internals.upgradeArriving(tcp));
  engine.on('connection', (conn: EngineSocket) => {
    const header = conn.request?.headers.authorization;
    if (typeof header === 'string') authorizationHeaders.set(conn, header);
    (conn as { request: IncomingMessage | null }).request = null;
  });
  engine.use((req: IncomingMessage, _res: unknown, next: () => void) => {
    internals.releaseUpgradeStandIn(req);
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
