import type { Envelope } from '../shared/protocol';
import type { ChatMessage } from './chat-message.entity';

/**
 * A stored message as the envelope clients receive (REST history, live delivery and replay alike).
 * `payload` may be passed when the caller still holds the value it stored, to skip parsing it again.
 */
export function toEnvelope(m: ChatMessage, payload?: unknown): Envelope {
  return {
    id: m.id,
    local_id: m.localId,
    type: m.type,
    sender_id: m.senderId,
    sender_name: m.senderName,
    sender_role: m.senderRole,
    target_id: m.targetId,
    payload: payload === undefined ? JSON.parse(m.payload) : payload,
    timestamp: m.createdAt.toISOString(),
    stream_id: m.streamId,
    reply_to: m.replyTo,
  };
}
