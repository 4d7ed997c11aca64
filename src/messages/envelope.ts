import type { Envelope } from '../shared/protocol';
import type { ChatMessage } from './chat-message.entity';

/** A stored message as the envelope clients receive (REST history, live delivery and replay alike). */
export function toEnvelope(m: ChatMessage): Envelope {
  return withPayload(m, JSON.parse(m.payload));
}

/** The same, with the payload value the caller still holds (it just stored its JSON): no second parse. */
export function withPayload(m: ChatMessage, payload: unknown): Envelope {
  return {
    id: m.id,
    local_id: m.localId,
    type: m.type,
    sender_id: m.senderId,
    sender_name: m.senderName,
    sender_role: m.senderRole,
    target_id: m.targetId,
    payload,
    timestamp: isoTime(m.createdAt),
    stream_id: m.streamId,
    reply_to: m.replyTo,
  };
}

let lastDate: Date | undefined;
let lastIso = '';

/**
 * `date.toISOString()`, computed once for the Date a whole commit group shares (every message of a
 * group has the same `createdAt` object, and each is formatted for its delivery and its ack). The
 * log never changes a Date once it is made.
 */
export function isoTime(date: Date): string {
  if (date !== lastDate) {
    lastIso = date.toISOString();
    lastDate = date;
  }
  return lastIso;
}
