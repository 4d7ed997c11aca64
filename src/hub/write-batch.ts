import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BaseServer, Socket as EngineSocket } from 'engine.io';
import { WebSocketServer, type ServerOptions } from 'ws';
import type { EngineIoInternals } from './engine-io.internals';

/**
 * Sends the frames that a websocket connection gets in one turn of the event loop in one write.
 *
 * A commit group becomes, for each socket, several frames (deliveries and acks), and `ws` writes each
 * frame with a system call of its own: on loopback and in a VM those calls were the largest single
 * cost of a message (README → Benchmarks). Public APIs only:
 *
 * - engine.io's `wsEngine` option (a `ws` WebSocketServer subclass, {@link WriteBatch.wsEngine}): its
 *   `handleUpgrade(req, socket, …)` is handed the TCP socket of every websocket connection;
 * - engine.io's `flush` event (server-wide, for every connection): its write buffer is about to go
 *   to the transport. The first flush of a turn corks the connection's TCP socket (Node's
 *   `socket.cork()`), and `setImmediate` uncorks it: after the group's deliveries and the acks that
 *   follow as promise reactions, before the loop waits for I/O again. Every frame ws writes meanwhile,
 *   through `send` or the pre-encoded broadcast frame alike, goes out in that one write.
 *
 * engine.io hands a transport one frame batch at a time and waits for ws's write callback before the
 * next (which a corked socket only calls once uncorked): frames that arrive after the first flush of a
 * turn wait in engine.io's buffer and go out, together with whatever the next turn adds, in the next
 * corked write. Under load that is one write per connection and turn; an idle connection's lone
 * frame waits only for the end of its turn. Long-polling has no socket of its own: left alone; a
 * long-polling connection that upgrades is matched to its new TCP socket by its session id (the one
 * engine.io internal here, engine-io.internals.ts).
 */
export class WriteBatch {
  /** engine.io's `wsEngine` option; undefined when coalescing is off (engine.io's default ws server). */
  readonly wsEngine: (new (options: ServerOptions) => WebSocketServer) | undefined;
  /** The TCP socket under each websocket connection, from its upgrade. */
  private readonly tcpOf = new WeakMap<EngineSocket, Duplex>();
  /** Websocket-first connections: their engine.io socket does not exist yet at the upgrade. */
  private readonly byRequest = new WeakMap<IncomingMessage, Duplex>();
  /** Long-polling connections upgrading, by engine.io session id, until their `upgrade` event. */
  private readonly upgrading = new Map<string, Duplex>();
  private corked: Set<Duplex> | undefined;

  constructor(
    readonly enabled: boolean,
    private readonly internals: EngineIoInternals,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const batch = this;
    this.wsEngine = enabled
      ? class CorkingWebSocketServer extends WebSocketServer {
          override handleUpgrade(...args: Parameters<WebSocketServer['handleUpgrade']>): void {
            batch.upgraded(args[0], args[1]);
            super.handleUpgrade(...args);
          }
        }
      : undefined;
  }

  /**
   * Follows an engine.io server's connections. Its `connection` listener must come before any that
   * drops `conn.request` (handshake-leftovers.ts): the request is how a websocket-first connection is
   * matched to its TCP socket.
   */
  attach(engine: BaseServer): void {
    if (!this.enabled) return;
    engine.on('connection', (conn: EngineSocket) => this.adopt(conn));
    engine.on('flush', (conn: EngineSocket) => this.flushing(conn));
  }

  private upgraded(req: IncomingMessage, tcp: Duplex): void {
    const sid = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sid');
    if (!sid) return void this.byRequest.set(req, tcp);
    this.upgrading.set(sid, tcp);
    // An upgrade that never completes must not leave its socket here.
    tcp.once('close', () => this.upgrading.get(sid) === tcp && this.upgrading.delete(sid));
  }

  private adopt(conn: EngineSocket): void {
    const tcp = conn.request ? this.byRequest.get(conn.request) : undefined;
    if (tcp) return void this.tcpOf.set(conn, tcp);
    const sid = this.internals.sessionIdOf(conn);
    if (sid === undefined) return;
    conn.once('upgrade', () => {
      const upgradedTcp = this.upgrading.get(sid);
      this.upgrading.delete(sid);
      if (upgradedTcp) this.tcpOf.set(conn, upgradedTcp);
    });
  }

  private flushing(conn: EngineSocket): void {
    if (conn.transport.name !== 'websocket') return;
    const tcp = this.tcpOf.get(conn);
    if (!tcp || tcp.destroyed || this.corked?.has(tcp)) return;
    if (!this.corked) {
      this.corked = new Set();
      setImmediate(this.release);
    }
    tcp.cork();
    this.corked.add(tcp);
  }

  private readonly release = () => {
    const corked = this.corked ?? new Set<Duplex>();
    this.corked = undefined;
    for (const tcp of corked) tcp.uncork();
  };
}
