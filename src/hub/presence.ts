import type { PresencePort } from '../shared/ports';

/**
 * Counts agents' live sockets. `add` answers whether this was the agent's first socket anywhere and
 * `remove` whether it was the last, so that PRESENCE is announced once per change.
 */
export interface PresenceTracker extends PresencePort {
  add(agentId: number, socketId: string): Promise<boolean>;
  remove(agentId: number, socketId: string): Promise<boolean>;
  /** Re-registers this replica's sockets after an outage of the shared store; returns agents touched. */
  reconcile?(local: { agentId: number; socketId: string }[]): Promise<number[]>;
  close(): Promise<void>;
}

/** One replica: the sockets live in this process. */
export class MemoryPresence implements PresenceTracker {
  private readonly sockets = new Map<number, Set<string>>();

  async add(agentId: number, socketId: string): Promise<boolean> {
    let set = this.sockets.get(agentId);
    if (!set) this.sockets.set(agentId, (set = new Set()));
    set.add(socketId);
    return set.size === 1;
  }

  async remove(agentId: number, socketId: string): Promise<boolean> {
    const set = this.sockets.get(agentId);
    if (!set?.delete(socketId)) return false;
    if (set.size) return false;
    this.sockets.delete(agentId);
    return true;
  }

  async onlineIds(ids: readonly number[]): Promise<Set<number>> {
    return new Set(ids.filter((id) => this.sockets.has(id)));
  }

  async close(): Promise<void> {
    this.sockets.clear();
  }
}
