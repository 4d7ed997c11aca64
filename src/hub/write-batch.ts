import type { Socket } from 'socket.io';
import { engineOf, type EngineConnection } from './engine-internals';

/**
 * Sends the frames that one turn of the event loop produces for a connection in one write.
 *
 * A commit group becomes, for each socket, several frames (deliveries and acks), and `ws` writes each
 * frame with a system call of its own: on loopback and in a VM those calls were the largest single
 * cost of a message (PROTOCOL's throughput figure, README → Benchmarks). The first frame for a
 * websocket connection in a turn marks its transport not writable, so engine.io keeps that frame and
 * the following ones in its write buffer, exactly as it does while a write is in flight; at the end of
 * the turn (`setImmediate`: after the group's deliveries and the acks that follow from them as promise
 * reactions, before the loop waits for I/O again) each held connection is flushed with its TCP socket
 * corked, which is one write of all its frames, in their order. A connection that is mid-write already
 * buffers by itself, and long-polling has no socket of its own to cork: both are left alone. (As while
 * any write is in flight, a `volatile` emit to a held connection would be dropped; EchoCenter sends
 * none.)
 *
 * It reaches into engine.io's connection (`transport.writable`, `flush()`, the `ws` socket's TCP
 * socket; see engine-internals.ts): a shape that does not match only costs the batching.
 */
export class WriteBatch {
  private held: EngineConnection[] | undefined;
  private readonly release = () => {
    const held = this.held ?? [];
    this.held = undefined;
    for (const conn of held) flushCorked(conn);
  };

  /** Called before a frame is written to `socket`: holds the connection's frames until the turn ends. */
  hold(socket: Socket): void {
    const conn = engineOf(socket);
    const transport = conn.transport;
    if (transport?.name !== 'websocket' || !transport.writable || typeof transport.socket?._socket?.cork !== 'function') return;
    if (!this.held) {
      this.held = [];
      setImmediate(this.release);
    }
    transport.writable = false;
    this.held.push(conn);
  }
}

function flushCorked(conn: EngineConnection): void {
  const transport = conn.transport!;
  const raw = transport.socket!._socket!;
  transport.writable = true;
  if (raw.destroyed) return conn.flush();
  raw.cork!();
  try {
    conn.flush();
  } finally {
    raw.uncork();
  }
}

/** One per process: it batches over the event loop, which every app in the process shares. */
export const writes = new WriteBatch();
