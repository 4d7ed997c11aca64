import { RequestContext } from '@mikro-orm/core';
import type { Orm } from '../db/orm';
import type { UsersService } from '../users/users.service';
import type { SocketIdentity } from './handshake';

/**
 * A user's id, name and role never change; only a deletion does, and that is forgotten at once. The
 * TTL is a backstop for a deletion notice lost on its way between replicas. It used to be 5 s, and
 * re-reading every active target every 5 s showed up as bursts of look-ups queued on SQLite's one
 * connection in front of the commits: the tail latency of every message at that moment.
 */
const TTL_MS = 5 * 60_000;
const MAX_ENTRIES = 50_000;

/**
 * Looks up message targets with a cache: every CHAT names a target, and a database read per
 * message would compete with the writes. A deleted user is forgotten at once, on every replica (the
 * hub relays the deletion to the others through the adapter, and clears the whole cache when Redis
 * comes back after an outage, during which such a notice may have been lost).
 */
export class Directory {
  private readonly cache = new Map<number, { user: SocketIdentity; at: number }>();

  constructor(
    private readonly orm: Orm,
    private readonly users: UsersService,
  ) {}

  /** The user if the cache knows them now (`undefined`: ask `find`). */
  cached(id: number): SocketIdentity | undefined {
    const hit = this.cache.get(id);
    return hit && Date.now() - hit.at < TTL_MS ? hit.user : undefined;
  }

  async find(id: number): Promise<SocketIdentity | null> {
    const hit = this.cached(id);
    if (hit) return hit;
    const now = Date.now();
    const row = await RequestContext.create(this.orm.em, () => this.users.findById(id));
    if (!row) return null; // a miss is not cached: the id may belong to a user created a moment later
    const user = { id: row.id, username: row.username, role: row.role };
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(id, { user, at: now });
    return user;
  }

  forget(id: number): void {
    this.cache.delete(id);
  }

  clear(): void {
    this.cache.clear();
  }
}
