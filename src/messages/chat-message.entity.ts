import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../users/user.entity';

/** Types stored in the message log; their ids are one growing sequence (PROTOCOL §3.3). */
export const STORED_TYPES = ['CHAT', 'AUTH_REQUEST', 'AUTH_STATUS_UPDATE'] as const;
export type StoredType = (typeof STORED_TYPES)[number];
export type SenderRole = Role | 'SYSTEM';

/**
 * One row of the message log. Sender and target are plain ids (no foreign key) so that history
 * outlives a deleted user; `senderName` keeps the name as it was. `audience = 'ADMINS'` marks a
 * message that every admin may also see (the Butler's authorization traffic).
 */
export class ChatMessage {
  id!: number;
  localId: string | null = null;
  type!: StoredType;
  senderId!: number;
  senderName!: string;
  senderRole!: SenderRole;
  /** null: a broadcast. */
  targetId: number | null = null;
  audience: string | null = null;
  /** The payload's JSON text, exactly as measured against MAX_PAYLOAD_BYTES. */
  payload!: string;
  streamId: string | null = null;
  replyTo: number | null = null;
  createdAt!: Date;
}

export const ChatMessageSchema = new EntitySchema<ChatMessage>({
  class: ChatMessage,
  tableName: 'chat_messages',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    localId: { type: 'string', length: 64, nullable: true },
    type: { type: 'string', length: 32 },
    senderId: { type: 'integer' },
    senderName: { type: 'string', length: 64 },
    senderRole: { type: 'string', length: 16 },
    targetId: { type: 'integer', nullable: true },
    audience: { type: 'string', length: 16, nullable: true },
    payload: { type: 'text' },
    streamId: { type: 'string', length: 128, nullable: true },
    replyTo: { type: 'integer', nullable: true },
    createdAt: { type: 'datetime', length: 3 },
  },
  uniques: [{ name: 'chat_messages_sender_local_unique', properties: ['senderId', 'localId'] }],
  indexes: [
    { name: 'chat_messages_target_id_index', properties: ['targetId', 'id'] },
    { name: 'chat_messages_sender_target_index', properties: ['senderId', 'targetId', 'id'] },
    { name: 'chat_messages_audience_index', properties: ['audience', 'id'] },
  ],
});
