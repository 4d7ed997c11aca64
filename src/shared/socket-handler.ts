import type { Ack, Envelope, MessageType, Role } from './protocol';

/**
 * The contract between the hub's socket lane (`hub/socket-lane.ts`) and the domain handlers of the
 * `message` event (`messages/chat.handlers.ts`, `messages/system-log.handlers.ts`,
 * `agents/agent-status.handlers.ts`, `butler/auth-response.handlers.ts`). It lives here so that
 * the domains need not import the hub, which imports them.
 */

/** Who sent a message: the identity the handshake stored on the socket. */
export interface Sender {
  id: number;
  username: string;
  role: Role;
}

/** The fields a client may set in an envelope, as validated at the edge (`hub/envelope.schema.ts`). */
export interface ClientEnvelope {
  type: MessageType;
  target_id?: number | null;
  payload?: unknown;
  local_id?: string | null;
  stream_id?: string | null;
  reply_to?: number | null;
}

/**
 * One message from one socket, validated (shape, the sender's permission for its type, payload
 * size and the type's payload rules). `payloadJson` is the payload's JSON text: what is stored.
 */
export interface IncomingMessage {
  sender: Sender;
  envelope: ClientEnvelope;
  payloadJson: string;
  socketId: string;
}

/** A CHAT or CHAT_STREAM*: its target resolved by the lane, `null` for an admin's broadcast. */
export interface ConversationMessage extends IncomingMessage {
  target: Sender | null;
}

/** Handles one message; resolves with the ack, or throws an `AppError` that becomes the refusal. */
export type MessageHandler = (message: IncomingMessage) => Promise<Ack>;
export type ConversationHandler = (message: ConversationMessage) => Promise<Ack>;

/** The routing rule of PROTOCOL §3.2 that conversation handlers use; the hub's `Delivery` implements it. */
export interface DeliveryPort {
  /** To the target's sockets and the human sender's other sockets (not `fromSocketId`); `null`: a broadcast. */
  conversation(envelope: Envelope, sender: Sender, target: Sender | null, fromSocketId?: string): void;
}
