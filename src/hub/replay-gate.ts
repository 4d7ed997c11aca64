import type { Adapter, BroadcastOptions } from 'socket.io-adapter';
import type { Socket } from 'socket.io';

/* eslint-disable @typescript-eslint/no-explicit-any */
type AdapterClass = new (...args: any[]) => Adapter;

interface Held {
  id: number | undefined;
  deliver: () => void;
}

/**
 * Holds a socket's live room deliveries while its replay runs, and afterwards drops any live copy of a
 * message the replay already sent (PROTOCOL §5: no gap, no duplicate).
 *
 * The socket joins its rooms *before* the replay query runs, so nothing committed later can be
 * missed; whatever the rooms deliver meanwhile waits here and is released after `replay:done`,
 * minus the ids the replay covered. The id filter stays for the socket's lifetime, because a copy
 * from another replica can arrive late through Redis.
 */
export class ReplayGate {
  private held: Held[] | undefined = [];

  constructor(private replayedUpTo = 0) {}

  /** The highest id a replay has sent to this socket. */
  get replayedThrough(): number {
    return this.replayedUpTo;
  }

  /** Whether a live packet must wait (replay running) or be dropped (already replayed). */
  offer(id: number | undefined, deliver: () => void): void {
    if (this.held) this.held.push({ id, deliver });
    else if (id === undefined || id > this.replayedUpTo) deliver();
  }

  /** Ends the replay at `lastId` and delivers what waited, in arrival order, minus duplicates. */
  release(lastId: number): void {
    this.replayedUpTo = Math.max(this.replayedUpTo, lastId);
    const held = this.held ?? [];
    this.held = undefined;
    for (const h of held) if (h.id === undefined || h.id > this.replayedUpTo) h.deliver();
  }
}

const gates = new WeakMap<object, ReplayGate>();

/**
 * Installs a gate on a socket (before it joins its rooms, or before a resync). A new gate keeps the
 * filter of the one it replaces: ids already replayed stay filtered.
 */
export function openReplayGate(socket: Socket): ReplayGate {
  const previous = gates.get(socket);
  const gate = new ReplayGate(previous?.replayedThrough ?? 0);
  gates.set(socket, gate);
  return gate;
}

/**
 * Adds the gate to an adapter class (the in-memory one or the Redis one). Every room broadcast, local
 * or arriving from another replica, goes through `_encode` and then `apply` in the base adapter, so
 * the packet seen by `_encode` is the one `apply` delivers. Pinned to socket.io-adapter 2.5.x; the
 * replay tests fail if that contract changes.
 */
export function withReplayGate<T extends AdapterClass>(Base: T, onDelivered?: (id: number) => void): T {
  const Gated = class extends Base {};
  const base = Base.prototype as any;
  const proto = Gated.prototype as any;
  proto._encode = function (this: any, packet: { data?: unknown[] }, packetOpts: unknown) {
    this.packetInFlight = packet;
    return base._encode.call(this, packet, packetOpts);
  };
  proto.apply = function (this: any, opts: BroadcastOptions, callback: (socket: Socket) => void) {
    const packet = this.packetInFlight as { data?: unknown[] } | undefined;
    this.packetInFlight = undefined;
    if (!packet) return base.apply.call(this, opts, callback);
    const id = messageId(packet);
    if (id !== undefined) onDelivered?.(id);
    return base.apply.call(this, opts, (socket: Socket) => {
      const gate = gates.get(socket);
      if (!gate) return callback(socket);
      gate.offer(id, () => callback(socket));
    });
  };
  return Gated;
}

function messageId(packet: { data?: unknown[] }): number | undefined {
  const envelope = packet.data?.[1] as { id?: unknown } | undefined;
  return typeof envelope?.id === 'number' ? envelope.id : undefined;
}
