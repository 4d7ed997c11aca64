import { dateOf } from '../../db/row-values';
import { ChatMessage } from '../chat-message.entity';
import type { NewMessage } from './log.types';

/** The entity class (unmanaged) for a message about to be stored at `now`. */
export function toMessage(input: NewMessage, now: Date): ChatMessage {
  return Object.assign(new ChatMessage(), {
    type: input.type,
    localId: input.localId ?? null,
    senderId: input.senderId,
    senderName: input.senderName,
    senderRole: input.senderRole,
    targetId: input.targetId,
    audience: input.audience ?? null,
    payload: input.payload,
    streamId: input.streamId ?? null,
    replyTo: input.replyTo ?? null,
    createdAt: now,
  });
}

/** A `chat_messages` row (as either driver returns it) as the entity class, unmanaged. */
export function fromRow(r: Record<string, unknown>): ChatMessage {
  return Object.assign(new ChatMessage(), {
    id: Number(r.id),
    localId: (r.local_id as string | null) ?? null,
    type: r.type as ChatMessage['type'],
    senderId: Number(r.sender_id),
    senderName: r.sender_name as string,
    senderRole: r.sender_role as ChatMessage['senderRole'],
    targetId: r.target_id === null || r.target_id === undefined ? null : Number(r.target_id),
    audience: (r.audience as string | null) ?? null,
    payload: r.payload as string,
    streamId: (r.stream_id as string | null) ?? null,
    replyTo: r.reply_to === null || r.reply_to === undefined ? null : Number(r.reply_to),
    createdAt: dateOf(r.created_at)!,
  });
}

/** Rows of `knex.raw` on either database: PostgreSQL wraps them in a result, SQLite does not. */
export function rawRows<Row = Record<string, unknown>>(result: unknown, postgres: boolean): Row[] {
  return (postgres ? (result as { rows: Row[] }).rows : result) as Row[];
}
