import { Adapter, type BroadcastOptions } from 'socket.io-adapter';

/**
 * The in-memory adapter (one replica), minus the work for a broadcast that no socket receives. The
 * base adapter encodes the packet before it looks for recipients, and a member's CHAT always goes to
 * the sender's other tabs too: usually there are none, and that encoding was a measurable share of a
 * message's cost. With Redis another replica may hold recipients, so this is for one replica only.
 */
export class LocalAdapter extends Adapter {
  override broadcast(packet: unknown, opts: BroadcastOptions): void {
    if (this.hasRecipients(opts)) super.broadcast(packet as never, opts);
  }

  private hasRecipients(opts: BroadcastOptions): boolean {
    if (opts.rooms.size === 0) return this.sids.size > 0;
    for (const room of opts.rooms) {
      for (const id of this.rooms.get(room) ?? []) if (!this.excluded(id, opts.except)) return true;
    }
    return false;
  }

  /** Whether a socket is in one of the `except` rooms (a socket's id is a room of its own). */
  private excluded(id: string, except: Set<string> | undefined): boolean {
    if (!except) return false;
    for (const room of except) if (room === id || this.rooms.get(room)?.has(id)) return true;
    return false;
  }
}
