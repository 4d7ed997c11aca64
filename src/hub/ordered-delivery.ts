import type { Namespace, Server, Socket } from 'socket.io';
import type { Envelope } from '../shared/protocol';
import { ReplayGate } from './replay-gate';

export type NamespaceName = '/chat' | '/agents' | '/monitor';

/**
 * A stored message (it has an id) on its way to sockets: which namespace, which rooms (none: every
 * socket of the namespace) and which rooms or socket ids are left out.
 */
export interface OrderedPacket {
  nsp: NamespaceName;
  rooms: string[];
  except: string[];
  envelope: Envelope & { id: number };
}

/**
 * Where Delivery hands stored messages. In one process they go straight to this replica's sockets;
 * with Redis, through one ordered channel that every replica (this one included) reads, so that
 * every socket receives the message log in id order (see src/cluster/).
 */
export interface OrderedSink {
  push(packet: OrderedPacket): void;
}

/**
 * The last hop of a stored message: this replica's sockets, through their replay gates.
 *
 * A socket that replays (`auth.last_id`, or a resync after a Redis outage) has a gate: what the
 * stream brings while its replay runs waits, and afterwards a copy of a message the replay already
 * sent is dropped (PROTOCOL §5: no gap, no duplicate). Sockets without a gate get the message through
 * one local room broadcast (`nsp.local`), encoded once.
 */
export class OrderedDelivery implements OrderedSink {
  private readonly namespaces: Record<NamespaceName, Namespace>;
  /** Gates by socket id (socket ids are unique across namespaces). */
  private readonly gates = new Map<string, ReplayGate>();

  constructor(io: Server) {
    this.namespaces = { '/chat': io.of('/chat'), '/agents': io.of('/agents'), '/monitor': io.of('/monitor') };
  }

  /** Delivers at once: this replica is the only one (no Redis). */
  push(packet: OrderedPacket): void {
    this.deliverLocal(packet);
  }

  /**
   * Opens a gate on a socket before its replay reads the log. A socket that had one keeps its filter:
   * ids it was already sent stay dropped. The hub closes it when the socket disconnects.
   */
  openGate(socket: Socket): ReplayGate {
    const previous = this.gates.get(socket.id);
    const gate = previous ?? new ReplayGate();
    if (previous) gate.reopen();
    this.gates.set(socket.id, gate);
    return gate;
  }

  /** The socket's gate, if it has one. */
  gateOf(socket: Socket): ReplayGate | undefined {
    return this.gates.get(socket.id);
  }

  /** Drops a socket's gate (it disconnected, or its gate has nothing left to filter). */
  closeGate(socket: Socket): void {
    this.gates.delete(socket.id);
  }

  /** Emits a stored message to this replica's sockets that it is for. */
  deliverLocal(packet: OrderedPacket): void {
    const nsp = this.namespaces[packet.nsp];
    if (!this.gates.size) {
      let to = nsp.local.to(packet.rooms);
      if (packet.except.length) to = to.except(packet.except);
      to.emit('message', packet.envelope);
      return;
    }
    const now: string[] = [];
    for (const id of recipients(nsp, packet.rooms, packet.except)) {
      const gate = this.gates.get(id);
      if (!gate) now.push(id);
      else gate.offer(packet.envelope.id, () => nsp.sockets.get(id)?.emit('message', packet.envelope));
    }
    if (now.length) nsp.local.to(now).emit('message', packet.envelope);
  }
}

/** The ids of the namespace's local sockets in any of `rooms` (all when none) and in none of `except`. */
function recipients(nsp: Namespace, rooms: string[], except: string[]): string[] {
  const members = nsp.adapter.rooms;
  const left = new Set<string>();
  for (const room of except) {
    left.add(room); // a socket id is a room of its own
    for (const id of members.get(room) ?? []) left.add(id);
  }
  const out = new Set<string>();
  const from = rooms.length ? rooms.map((room) => members.get(room) ?? new Set<string>()) : [nsp.sockets.keys()];
  for (const ids of from) for (const id of ids) if (!left.has(id)) out.add(id);
  return [...out];
}
