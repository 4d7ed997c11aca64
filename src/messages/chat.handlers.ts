import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import type { Ack, Envelope } from '../shared/protocol';
import type { ConversationHandler, DeliveryPort, Sender } from '../shared/socket-handler';
import type { ChatMessage } from './chat-message.entity';
import { isoTime, withPayload } from './envelope';
import type { MessageLogService } from './log/message-log.service';

/** Consumers of stored conversation messages (the Butler); called right after delivery, must not block. */
export interface ChatListener {
  onChat(message: ChatMessage, sender: Sender, target: Sender | null): void;
}

export interface ChatHandlerDeps {
  messageLog: Pick<MessageLogService, 'append'>;
  delivery: DeliveryPort;
  clock: Clock;
  listeners: readonly ChatListener[];
}

/**
 * CHAT, CHAT_STREAM and CHAT_STREAM_END from a socket (PROTOCOL §3.2). A CHAT is appended to the
 * message log, which commits it (in a group with others) and then calls back to deliver it; its
 * ack follows. Stream chunks are delivered only, never stored.
 */
export function chatHandlers(deps: ChatHandlerDeps): { CHAT: ConversationHandler; CHAT_STREAM: ConversationHandler; CHAT_STREAM_END: ConversationHandler } {
  /**
   * Queues the CHAT in the log before it returns (the socket lane relies on it: the CHAT's place in
   * the socket's order is taken when this returns), and resolves with the ack after commit and
   * delivery.
   */
  const chat: ConversationHandler = ({ sender, envelope, payloadJson, target, socketId }) =>
    deps.messageLog
      .append(
        {
          type: 'CHAT',
          localId: envelope.local_id ?? null,
          senderId: sender.id,
          senderName: sender.username,
          senderRole: sender.role,
          targetId: target?.id ?? null,
          payload: payloadJson,
          streamId: envelope.stream_id ?? null,
          replyTo: envelope.reply_to ?? null,
        },
        ({ message: stored, duplicate }) => {
          if (duplicate) return; // delivered the first time
          deps.delivery.conversation(withPayload(stored, envelope.payload), sender, target, socketId);
          for (const l of deps.listeners) l.onChat(stored, sender, target);
        },
      )
      .then(
        ({ message }): Ack => ({ ok: true, id: message.id, local_id: message.localId, timestamp: isoTime(message.createdAt) }),
        (err) => {
          throw new AppError('UNAVAILABLE', 'The message could not be stored; nothing was sent', { cause: err });
        },
      );

  const stream: ConversationHandler = async ({ sender, envelope, target }) => {
    const out: Envelope = {
      type: envelope.type,
      local_id: envelope.local_id ?? null,
      sender_id: sender.id,
      sender_name: sender.username,
      sender_role: sender.role,
      target_id: target?.id ?? null,
      payload: envelope.payload ?? null,
      timestamp: deps.clock.now().toISOString(),
      stream_id: envelope.stream_id,
      reply_to: envelope.reply_to ?? null,
    };
    deps.delivery.conversation(out, sender, target);
    return { ok: true };
  };

  return { CHAT: chat, CHAT_STREAM: stream, CHAT_STREAM_END: stream };
}
