import { ServerResponse, type IncomingMessage } from 'node:http';
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
 * 2. For a WebSocket upgrade engine.io hands its middlewares a stand-in response (a subset of
 * ServerResponse) that keeps the upgrade request as `res.req`; its constructor also registers
 * `socket.once("close", () => this.emit("close"))` on the TCP socket, so the stand-in, and through
 * `res.req` the whole IncomingMessage, lives as long as the connection (about 1 KB a socket: 20 MB at
 * 20,000 agents). Once the middlewares have run nothing reads `res.req` again (ws reads the request it
 * is handed, engine.io keeps the one it needs), so it is dropped. Without it each connection keeps
 *    its upgrade request.
 */
export class EngineIoInternals {
  private readonly off = new Set<'sessionId' | 'upgradeStandIn'>();

  constructor(private readonly log: Logger) {}

  /** The connection's engine.io session id, or undefined when that shape is gone (see 1.). */
  sessionIdOf(conn: object): string | undefined {
    if (forcedOff || this.off.has('sessionId')) return undefined;
    const id = (conn as { id?: unknown }).id;
    if (typeof id === 'string' && id) return id;
    this.disable('sessionId', 'an engine.io connection has no string `id`');
    return undefined;
  }

  /**
   * Drops the stand-in response's reference to the upgrade request. Must run after every other engine
   * middleware (they may still call `res.setHeader`, which goes through `res.req`).
   */
  releaseUpgradeStandIn(req: IncomingMessage, res: object): void {
    if (forcedOff || this.off.has('upgradeStandIn') || res instanceof ServerResponse) return; // polling: a real response
    const standIn = res as { req?: unknown; setHeader?: unknown };
    if (standIn.req !== req || typeof standIn.setHeader !== 'function') {
      return this.disable('upgradeStandIn', 'the upgrade stand-in response has no `req`');
    }
    standIn.req = undefined;
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
