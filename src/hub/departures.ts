import { RequestContext } from '@mikro-orm/core';
import type { Orm } from '../db/orm';
import type { Clock } from '../shared/clock';
import { User } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import type { UserView } from '../users/user.view';

/** Ids per statement: well under SQLite's and PostgreSQL's limits on bound parameters. */
const CHUNK = 500;

/**
 * Agents whose last socket left: stores `last_seen_at` and hands their PRESENCE views to `announce`,
 * in groups. A draining replica (or a network blip, or a dead replica being reaped) drops thousands
 * of agents at once; one UPDATE and two reads per 500 of them replace three statements per agent,
 * which took minutes for 20,000 and ran past the shutdown deadline. While a group is written the
 * next one collects, so a lone departure is written at once, as before.
 */
export class Departures {
  private collecting: { ids: Set<number>; written: Promise<void> } | undefined;
  private previous: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: { orm: Orm; users: UsersService; clock: Clock; announce: (view: UserView) => void },
  ) {}

  /** Resolves once the agent's `last_seen_at` is stored and its PRESENCE sent. */
  add(agentId: number): Promise<void> {
    if (!this.collecting) {
      const ids = new Set<number>();
      const written = this.previous.then(() => {
        this.collecting = undefined; // from here on, departures join the next group
        return this.write([...ids]);
      });
      this.collecting = { ids, written };
      this.previous = written.catch(() => undefined);
    }
    this.collecting.ids.add(agentId);
    return this.collecting.written;
  }

  private async write(ids: number[]): Promise<void> {
    // One timestamp per group: the departures in it happened while the group before was written.
    const now = this.deps.clock.now();
    for (let from = 0; from < ids.length; from += CHUNK) {
      const chunk = ids.slice(from, from + CHUNK);
      const views = await RequestContext.create(this.deps.orm.em, async () => {
        const em = this.deps.users.em;
        await em.nativeUpdate(User, { id: { $in: chunk } }, { lastSeenAt: now });
        return this.deps.users.views(await em.find(User, { id: { $in: chunk } }));
      });
      for (const view of views) this.deps.announce(view);
    }
  }
}
