import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../shared/logger';

/**
 * The engine.io internals EchoCenter relies on (engine.io 6.6.13, pinned in package.json; every other
 * engine.io and ws call in src/hub is public API). Each is checked where it is used, since both only
 * exist on a live connection: when a shape differs, that tuning is turned off for the process and ONE
 * warning is logged; connections then work exactly as without it.
 *
 * 1. The session id of a connection (`conn.id`, the protocol's `sid`, typed private): how
 *    write-batch.ts matches a long-polling connection to the TCP socket of its later upgrade.
 *    Without it such connections are not coalesced.
 * 2. For a WebSocket upgrade engine.io builds a stand-in response for its middlewares (a subset of
 *    ServerResponse holding the request), and registers `socket.once("close", () => this.emit("close"))`
 *    on the TCP socket so that middlewares can listen for the response's `close`. That listener keeps
 *    the stand-in, and through it the whole IncomingMessage, alive as long as the connection (about
 *    1 KB a socket; dropping only the stand-in's `req` left 0.5 KB a socket more in bench:agents). EchoCenter registers no middleware that listens for it,
 *    so it is removed: it is the one `close` listener added to the TCP socket between the HTTP
 *    server's `upgrade` event and engine.io's middlewares (counted, not recognised by its text).
 *    Without it each connection keeps its upgrade request.
 */
export class EngineIoInternals {
  private readonly off = new Set<'sessionId' | 'upgradeStandIn'>();
  /** The TCP socket's `close` listener count when its upgrade arrived (see 2.). */
  private readonly closeListenersAtUpgrade = new WeakMap<Duplex, number>();

  constructor(private readonly log: Logger) {}

  /** The connection's engine.io session id, or undefined when that shape is gone (see 1.). */
  sessionIdOf(conn: object): string | undefined {
    if (forcedOff || this.off.has('sessionId')) return undefined;
    const id = (conn as { id?: unknown }).id;
    if (typeof id === 'string' && id) return id;
    this.disable('sessionId', 'an engine.io connection has no string `id`');
    return undefined;
  }

  /** Called first on the HTTP server's `upgrade`, before engine.io's own listener (see 2.). */
  upgradeArriving(tcp: Duplex): void {
    if (!forcedOff && !this.off.has('upgradeStandIn')) this.closeListenersAtUpgrade.set(tcp, tcp.listenerCount('close'));
  }

  /**
   * Removes the `close` listener of engine.io's upgrade stand-in (see 2.). Runs as the last engine
   * middleware: nothing else registers a `close` listener on the TCP socket before it.
   */
  releaseUpgradeStandIn(req: IncomingMessage): void {
    const tcp = req.socket;
    const before = this.closeListenersAtUpgrade.get(tcp);
    if (before === undefined) return; // a long-polling request, or the release is off
    this.closeListenersAtUpgrade.delete(tcp);
    const listeners = tcp.rawListeners('close');
    if (listeners.length !== before + 1) {
      return this.disable('upgradeStandIn', `an upgrade added ${listeners.length - before} close listeners before the middlewares, not 1`);
    }
    tcp.removeListener('close', listeners[before] as () => void);
  }

  private disable(what: 'sessionId' | 'upgradeStandIn', why: string): void {
    this.off.add(what);
    const cost = what === 'sessionId' ? 'upgraded long-polling connections are not write-coalesced' : 'upgrade requests are kept (more memory per socket)';
    this.log.warn({ engineIo: ENGINE_IO_VERSION, why }, `engine.io internals differ from the pinned ${ENGINE_IO_VERSION}: ${cost}`);
  }
}

/** The engine.io version whose shapes this module was written against (package.json pins it). */
export const ENGINE_IO_VERSION = '6.6.13';

let forcedOff = false;

/**
 * For tests and benches: the engine tuning of src/hub is off, the internals above as when their probe
 * fails and the write coalescing of write-batch.ts (public, but what the bench compares). Read when a
 * hub is built (write coalescing) and at each use (the internals).
 */
export function forceEngineTuningOff(off = true): void {
  forcedOff = off;
}

/** Whether {@link forceEngineTuningOff} is in effect. */
export function engineTuningForcedOff(): boolean {
  return forcedOff;
}
