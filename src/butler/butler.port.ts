import type { Envelope } from '../shared/protocol';
import type { Role } from '../users/user.entity';

export interface Party {
  id: number;
  username: string;
  role: Role;
}

/**
 * How the Butler speaks; the hub implements it. Stored messages go through the message log (commit,
 * then deliver); stream chunks are delivered only.
 */
export interface ButlerOutbox {
  /** A stored Butler CHAT to a human or an agent (Butler→agent CHATs are mirrored to `/monitor`). */
  chat(to: Party, text: string, opts?: { streamId?: string; replyTo?: number | null; localId?: string }): Promise<{ id: number }>;
  /** A CHAT_STREAM chunk or the CHAT_STREAM_END of a reply. */
  stream(to: Party, type: 'CHAT_STREAM' | 'CHAT_STREAM_END', streamId: string, text: string | null, replyTo: number | null): void;
  /** A stored AUTH_REQUEST / AUTH_STATUS_UPDATE to the requester, every admin and `/monitor`. */
  authMessage(type: 'AUTH_REQUEST' | 'AUTH_STATUS_UPDATE', requesterId: number, payload: unknown): Promise<void>;
  /** Mirrors an agent's CHAT to the Butler to `/monitor`. */
  mirrorFromAgent(agentId: number, envelope: Envelope): void;
  isOnline(agentId: number): Promise<boolean>;
}
