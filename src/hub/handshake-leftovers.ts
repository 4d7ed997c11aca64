import { IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io';
import { engineOf, type TcpSocket } from './engine-internals';

/**
 * Request headers that a later namespace on the same connection still reads at its handshake
 * (socket.io builds each namespace's `handshake` from the connection's first request): the bearer
 * credential (handshake.ts) and `Origin` (`handshake.xdomain`).
 */
const KEPT_HEADERS = ['authorization', 'origin'] as const;

/**
 * What socket.io reads from a connection's request after the first namespace has connected (its
 * `buildHandshake` for each further namespace): the headers above, the URL and query, and whether
 * the transport was encrypted. Nothing else reads it later (socket.io 4.8.4 / engine.io 6.6.13, see
 * engine-internals.ts; the tests fail if that changes).
 */
interface SlimRequest {
  headers: IncomingMessage['headers'];
  url: string | undefined;
  _query: unknown;
  connection: { encrypted: boolean };
}

/**
 * Lets go of what a connected socket no longer needs from its handshake. engine.io keeps the upgrade
 * request (an IncomingMessage with its stream state, headers and listeners) for the connection's
 * lifetime: it is replaced by the few fields socket.io still reads (SlimRequest). The handshake's
 * copy of the `auth` payload, which holds the credential, is dropped too.
 *
 * About 1.6 KB a socket in all (1 KB of it the request): 32 MB at 20,000 idle agents (README → Benchmarks).
 */
export function dropHandshakeLeftovers(socket: Socket): void {
  const conn = engineOf(socket);
  const req = conn.request as IncomingMessage | SlimRequest;
  if (req instanceof IncomingMessage) {
    const headers: IncomingMessage['headers'] = {};
    for (const name of KEPT_HEADERS) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    conn.request = {
      headers,
      url: req.url,
      _query: (req as unknown as { _query?: unknown })._query,
      connection: { encrypted: Boolean((req.socket as { encrypted?: boolean } | null)?.encrypted) },
    };
    const tcp = conn.transport?.socket?._socket;
    if (tcp) releaseUpgradeResponse(tcp);
    // A long-polling connection that upgrades later does so with a request of its own.
    else if (conn.transport?.name === 'polling') {
      conn.once('upgrade', (transport) => {
        const upgraded = transport.socket?._socket;
        if (upgraded) releaseUpgradeResponse(upgraded);
      });
    }
  }
  socket.handshake.headers = (conn.request as SlimRequest).headers;
  socket.handshake.auth = {};
}

/**
 * engine.io answers a WebSocket upgrade through a stand-in response (for HTTP middlewares), which
 * holds the request and re-emits the TCP socket's `close` for them: `socket.once("close", () =>
 * this.emit("close"))`. That listener would keep the request alive as long as the connection. This
 * server registers no engine middleware that could listen for it, so it is removed; a listener of
 * any other shape is left alone.
 */
function releaseUpgradeResponse(tcp: TcpSocket): void {
  for (const raw of tcp.rawListeners('close')) {
    const listener = (raw as { listener?: () => void }).listener;
    // An anonymous function without parameters, before its source text is looked at.
    if (listener && listener.name === '' && listener.length === 0 && String(listener) === '() => this.emit("close")') {
      tcp.removeListener('close', listener);
      return;
    }
  }
}
