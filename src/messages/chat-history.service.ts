import type { SqlEntityManager } from '@mikro-orm/knex';
import { z } from 'zod';
import type { Orm } from '../db/orm';
import { validationError } from '../shared/errors';
import { cursorSchema, limitSchema } from '../shared/paging';
import type { Envelope } from '../shared/protocol';
import { ChatMessage } from './chat-message.entity';
import { toEnvelope } from './envelope';

export const conversationQuerySchema = z.object({ before_id: cursorSchema, after_id: cursorSchema, limit: limitSchema });
export type ConversationQuery = z.infer<typeof conversationQuerySchema>;

/** Reads stored conversations between two users (PROTOCOL §2.1). */
export class ChatHistoryService {
  constructor(private readonly orm: Orm) {}

  private get em(): SqlEntityManager {
    return this.orm.em as SqlEntityManager;
  }

  /**
   * The stored messages that `senderRole` sent to `targetId` with one of `localIds` (the Butler's
   * directives by their action ids), ascending by id.
   */
  async sentWithLocalIds(senderRole: 'BUTLER', targetId: number, localIds: string[]): Promise<ChatMessage[]> {
    if (!localIds.length) return [];
    return this.orm.em.fork().find(ChatMessage, { senderRole, targetId, localId: { $in: localIds } }, { orderBy: { id: 'asc' } });
  }

  /**
   * The messages between `a` and `b` in ascending id order: the newest `limit` without a cursor, the
   * `limit` just before `before_id`, or the `limit` just after `after_id`.
   */
  async conversation(a: number, b: number, query: ConversationQuery): Promise<Envelope[]> {
    if (query.before_id && query.after_id) throw validationError('use before_id or after_id, not both');
    const between = { $or: [{ senderId: a, targetId: b }, { senderId: b, targetId: a }] };
    const ascending = query.after_id !== undefined;
    const rows = await this.em.find(
      ChatMessage,
      {
        ...between,
        ...(query.after_id ? { id: { $gt: query.after_id } } : {}),
        ...(query.before_id ? { id: { $lt: query.before_id } } : {}),
      },
      { orderBy: { id: ascending ? 'asc' : 'desc' }, limit: query.limit },
    );
    if (!ascending) rows.reverse();
    return rows.map(toEnvelope);
  }

  /**
   * The Butler's message `id` to `agentId`, or null: how an agent's `reply_to` names the directive it
   * answers (PROTOCOL §6). Read in a fork of its own, as stored, whatever the caller's context holds.
   */
  butlerMessageTo(agentId: number, id: number): Promise<ChatMessage | null> {
    return this.orm.em.fork().findOne(ChatMessage, { id, senderRole: 'BUTLER', targetId: agentId });
  }
}
