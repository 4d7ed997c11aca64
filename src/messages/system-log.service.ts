import type { SqlEntityManager } from '@mikro-orm/knex';
import { z } from 'zod';
import type { Orm } from '../db/orm';
import type { Clock } from '../shared/clock';
import { cursorSchema, limitSchema } from '../shared/paging';
import type { HubPort, LogAuthor } from '../shared/ports';
import type { SystemLogPayload } from '../shared/protocol';
import { LOG_LEVELS, SystemLog, type LogLevel } from './system-log.entity';
import { stringField } from '../shared/fields';

export type { LogAuthor };

export type SystemLogEntry = SystemLogPayload;

export const systemLogQuerySchema = z.object({
  level: z.enum(LOG_LEVELS, { error: `level must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  agent_id: cursorSchema,
  q: z.string().max(200, 'q must be at most 200 characters').optional(),
  before_id: cursorSchema,
  limit: limitSchema,
});
export type SystemLogQuery = z.infer<typeof systemLogQuerySchema>;

export const systemLogInputSchema = (maxContentBytes: number) =>
  z.object({
    level: z.enum(LOG_LEVELS, { error: `level must be one of ${LOG_LEVELS.join(', ')}` }),
    content: stringField('content')
      .min(1, 'content must not be empty')
      .refine((c) => Buffer.byteLength(c, 'utf8') <= maxContentBytes, `content must be at most ${maxContentBytes} bytes`)
      // NUL breaks the INSERT on both databases (a 500); a lone surrogate would be stored as U+FFFD.
      .refine((c) => !c.includes('\u0000') && !/\p{Cs}/u.test(c), 'content must be text without NUL characters or lone surrogates'),
  });

export function toLogEntry(log: SystemLog): SystemLogEntry {
  return {
    id: log.id,
    agent_id: log.agentId,
    agent_name: log.agentName,
    level: log.level,
    content: log.content,
    timestamp: log.createdAt.toISOString(),
  };
}

/** The system log: entries from agents and admins, pushed live after they are stored. */
export class SystemLogService {
  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly hub: () => HubPort,
  ) {}

  private get em(): SqlEntityManager {
    return this.orm.em as SqlEntityManager;
  }

  /** Stores an entry (committed) and then pushes it as SYSTEM_LOG. */
  async post(sender: LogAuthor, input: { level: LogLevel; content: string }): Promise<SystemLogEntry> {
    const entry = await this.store(sender, input);
    await this.hub().systemLogStored(entry, sender);
    return entry;
  }

  /** Stores an entry without announcing it (the hub announces socket-sent entries itself). */
  async store(sender: LogAuthor, input: { level: LogLevel; content: string }): Promise<SystemLogEntry> {
    const log = this.em.create(SystemLog, {
      agentId: sender.role === 'AGENT' ? sender.id : null,
      agentName: sender.username,
      level: input.level,
      content: input.content,
      createdAt: this.clock.now(),
    });
    await this.em.persistAndFlush(log);
    return toLogEntry(log);
  }

  /** Newest first, filtered by level, agent and a case-insensitive substring of the content. */
  async list(query: SystemLogQuery): Promise<SystemLogEntry[]> {
    const qb = this.em.createQueryBuilder(SystemLog, 'l').select('*').orderBy({ id: 'desc' }).limit(query.limit);
    if (query.level) qb.andWhere({ level: query.level });
    if (query.agent_id) qb.andWhere({ agentId: query.agent_id });
    if (query.before_id) qb.andWhere({ id: { $lt: query.before_id } });
    if (query.q) qb.andWhere(`lower(l.content) like ? escape '\\'`, [`%${escapeLike(query.q.toLowerCase())}%`]);
    return (await qb.getResultList()).map(toLogEntry);
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
