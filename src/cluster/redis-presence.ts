import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { Logger } from '../shared/logger';
import type { PresenceTracker } from '../hub/presence';

const HEARTBEAT_MS = 5_000;
/** A replica that has not renewed its heartbeat for this long counts as dead (PROTOCOL §4: ≤ 30 s). */
const HEARTBEAT_TTL_MS = 15_000;

/*
 * Keys (under the deployment's prefix):
 *   replicas                  set of replica ids that have ever registered and not been reaped
 *   replica:<rid>             heartbeat, expires after HEARTBEAT_TTL_MS
 *   replica:<rid>:agents      set of agent ids with a socket on that replica
 *   agent:<aid>:sockets       hash "<rid>|<socketId>" -> rid: the agent's live sockets everywhere
 */

/** Adds a socket; returns 1 when it is the agent's first live socket on any live replica. */
const ADD = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local live = 0
for _, rid in ipairs(redis.call('HVALS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[4] .. rid) == 1 then live = live + 1 end
end
if live == 1 then return 1 else return 0 end`;

/** Removes a socket; returns 1 when the agent has no live socket left anywhere. */
const REMOVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, rid in ipairs(redis.call('HVALS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[2] .. rid) == 1 then return 0 end
end
return 1`;

/** Drops a dead replica's sockets of one agent; returns 1 when that leaves the agent offline. */
const REAP_AGENT = `
local had = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then redis.call('HDEL', KEYS[1], all[i]); had = 1 end
end
if had == 0 then return 0 end
for _, rid in ipairs(redis.call('HVALS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[2] .. rid) == 1 then return 0 end
end
return 1`;

/**
 * Presence across replicas (PROTOCOL §4). Each replica renews a heartbeat key; an agent is online while
 * it has a socket on a replica whose heartbeat lives. A replica that dies without goodbye stops
 * counting when its heartbeat expires, and one surviving replica (chosen by a lock) reaps it and
 * announces its agents that went offline, within HEARTBEAT_TTL_MS + HEARTBEAT_MS.
 */
export class RedisPresence implements PresenceTracker {
  readonly replicaId = randomBytes(6).toString('hex');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    /** Called for each agent whose last socket was on a reaped replica. */
    private readonly onAgentGone: (agentId: number) => Promise<void>,
  ) {}

  private key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  async start(): Promise<void> {
    await this.beat();
    await this.redis.sadd(this.key('replicas'), this.replicaId);
    this.timer = setInterval(() => void this.tick(), HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    await this.redis.set(this.key('replica', this.replicaId), '1', 'PX', HEARTBEAT_TTL_MS);
  }

  private async tick(): Promise<void> {
    try {
      await this.beat();
      await this.reapDead();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'presence heartbeat failed');
    }
  }

  async add(agentId: number, socketId: string): Promise<boolean> {
    const r = await this.redis.eval(ADD, 2, this.key('agent', agentId, 'sockets'), this.key('replica', this.replicaId, 'agents'),
      `${this.replicaId}|${socketId}`, this.replicaId, String(agentId), this.key('replica', ''));
    return r === 1;
  }

  async remove(agentId: number, socketId: string): Promise<boolean> {
    const r = await this.redis.eval(REMOVE, 1, this.key('agent', agentId, 'sockets'), `${this.replicaId}|${socketId}`, this.key('replica', ''));
    return r === 1;
  }

  async onlineIds(ids: readonly number[]): Promise<Set<number>> {
    if (!ids.length) return new Set();
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hvals(this.key('agent', id, 'sockets'));
    const results = (await pipeline.exec()) ?? [];
    const replicas = new Set(results.flatMap(([, v]) => (v as string[]) ?? []));
    const alive = await this.aliveReplicas([...replicas]);
    const online = new Set<number>();
    results.forEach(([, v], i) => {
      if (((v as string[]) ?? []).some((rid) => alive.has(rid))) online.add(ids[i]);
    });
    return online;
  }

  private async aliveReplicas(rids: string[]): Promise<Set<string>> {
    if (!rids.length) return new Set();
    const flags = await this.redis.mget(rids.map((r) => this.key('replica', r)));
    return new Set(rids.filter((_, i) => flags[i] !== null));
  }

  /** Finds replicas whose heartbeat expired and reaps each on exactly one survivor. */
  private async reapDead(): Promise<void> {
    const rids = await this.redis.smembers(this.key('replicas'));
    const alive = await this.aliveReplicas(rids);
    for (const dead of rids.filter((r) => !alive.has(r))) {
      const won = await this.redis.set(this.key('reap', dead), this.replicaId, 'PX', 60_000, 'NX');
      if (won !== 'OK') continue;
      const agentIds = await this.redis.smembers(this.key('replica', dead, 'agents'));
      for (const agentId of agentIds) {
        const gone = await this.redis.eval(REAP_AGENT, 1, this.key('agent', agentId, 'sockets'), dead, this.key('replica', ''));
        if (gone === 1) await this.onAgentGone(Number(agentId)).catch((err) => this.log.error({ err, agentId }, 'offline announcement failed'));
      }
      await this.redis.del(this.key('replica', dead, 'agents'));
      await this.redis.srem(this.key('replicas'), dead);
      this.log.info({ replica: dead, agents: agentIds.length }, 'reaped a replica that stopped without goodbye');
    }
  }

  /**
   * After a Redis outage: makes this replica's entries match the sockets it really holds (adds and
   * removals made while Redis was down were lost). Returns the agents it touched, whose PRESENCE
   * is worth announcing again (clients missed the announcements of the outage).
   */
  async reconcile(local: { agentId: number; socketId: string }[]): Promise<number[]> {
    await this.beat();
    await this.redis.sadd(this.key('replicas'), this.replicaId);
    const wanted = new Set(local.map((l) => `${this.replicaId}|${l.socketId}`));
    const known = await this.redis.smembers(this.key('replica', this.replicaId, 'agents'));
    const touched = [...new Set([...known.map(Number), ...local.map((l) => l.agentId)])];
    for (const agentId of touched) {
      const fields = await this.redis.hkeys(this.key('agent', agentId, 'sockets'));
      const stale = fields.filter((f) => f.startsWith(`${this.replicaId}|`) && !wanted.has(f));
      if (stale.length) await this.redis.hdel(this.key('agent', agentId, 'sockets'), ...stale);
      for (const l of local.filter((x) => x.agentId === agentId)) await this.add(agentId, l.socketId);
    }
    return touched;
  }

  /** Leaves the cluster: this replica's sockets stop counting at once. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    try {
      await this.redis.del(this.key('replica', this.replicaId), this.key('replica', this.replicaId, 'agents'));
      await this.redis.srem(this.key('replicas'), this.replicaId);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not deregister from presence');
    }
  }
}
