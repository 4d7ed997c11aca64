import { RequestContext } from '@mikro-orm/core';
import type { Orm } from '../db/orm';
import { BatchLoader } from '../shared/batch-loader';
import type { Clock } from '../shared/clock';
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
  /** Departures that arrive while a group is written wait and go together in the next one. */
  private readonly groups = new BatchLoader<number, true>(async (ids) => {
    await this.write(ids);
    return new Map(ids.map((id) => [id, true]));
  }, Infinity);

  constructor(
    private readonly deps: { orm: Orm; users: UsersService; clock: Clock; announce: (view: UserView) => void },
  ) {}

  /** Resolves once the agent's `last_seen_at` is stored and its PRESENCE sent. */
  async add(agentId: number): Promise<void> {
    await this.groups.get(agentId);
  }

  private async write(ids: number[]): Promise<void> {
    // One timestamp per group: the departures in it happened while the group before was written.
    const now = this.deps.clock.now();
    for (let from = 0; from < ids.length; from += CHUNK) {
      const chunk = ids.slice(from, from + CHUNK);
      const views = await RequestContext.create(this.deps.orm.em, async () => {
        const { users } = this.deps;
        await users.markLastSeen(chunk, now);
        return users.views(await users.findByIds(chunk));
      });
      for (const view of views) this.deps.announce(view);
    }
  }
}
