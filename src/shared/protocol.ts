/**
 * The realtime contract of PROTOCOL.md §3 as types, shared by the server, the tests and clients.
 */
import type { ErrorCode } from './errors';

export const MESSAGE_TYPES = [
  'CHAT',
  'CHAT_STREAM',
  'CHAT_STREAM_END',
  'SYSTEM_LOG',
  'AGENT_STATUS',
  'PRESENCE',
  'AUTH_REQUEST',
  'AUTH_RESPONSE',
  'AUTH_STATUS_UPDATE',
  'BUTLER_AGENT_MESSAGE',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** The role of every principal (PROTOCOL §1); a user row's `role`. */
export const ROLES = ['ADMIN', 'MEMBER', 'AGENT', 'BUTLER'] as const;
export type Role = (typeof ROLES)[number];

export type SenderRole = Role | 'SYSTEM';

/** The one envelope both directions use on the `message` event. */
export interface Envelope<P = unknown> {
  /** Set for message-log types (CHAT, AUTH_REQUEST, AUTH_STATUS_UPDATE) only. */
  id?: number;
  local_id?: string | null;
  type: MessageType;
  sender_id: number;
  sender_name: string;
  sender_role: SenderRole;
  /** null: a broadcast. */
  target_id: number | null;
  payload: P;
  timestamp: string;
  stream_id?: string | null;
  reply_to?: number | null;
}

/** What a client sends; server-set fields are ignored. */
export interface OutgoingEnvelope {
  type: MessageType;
  target_id?: number | null;
  payload?: unknown;
  local_id?: string;
  stream_id?: string;
  reply_to?: number;
}

export type Ack =
  | { ok: true; id?: number; local_id?: string | null; timestamp?: string; action_id?: string; status?: string }
  | { ok: false; error: string; code: ErrorCode };

export interface ReplayDone {
  last_id: number;
}

export interface SystemLogPayload {
  id: number;
  agent_id: number | null;
  agent_name: string;
  level: string;
  content: string;
  timestamp: string;
}

/** A Butler CHAT to an agent whose payload starts with this is a directive (PROTOCOL §6.3). */
export const DIRECTIVE_PREFIX = '[DIRECTIVE] ';
/** An agent's answer to a directive that starts with this fails the action, with the rest as its result. */
export const ERROR_PREFIX = '[ERROR] ';

/** Every status an authorization request moves through (PROTOCOL §6). */
export type AuthStatusName = 'PENDING' | 'APPROVED' | 'EXECUTING' | 'COMPLETED' | 'FAILED' | 'REJECTED' | 'EXPIRED';

/** The payload of `AUTH_REQUEST` (PROTOCOL §3.2). */
export interface AuthRequestPayload {
  action_id: string;
  target_agent_id: number;
  target_agent_name: string;
  command: string;
  reason: string;
  status: AuthStatusName;
  requested_by: number;
  expires_at: string;
}

/** The payload of `AUTH_STATUS_UPDATE`: user ids, not names (PROTOCOL §3.2). */
export interface AuthStatusUpdatePayload {
  action_id: string;
  status: AuthStatusName;
  decided_by: number | null;
  decided_at: string | null;
  result: string | null;
}

/** The payload of `BUTLER_AGENT_MESSAGE` on `/monitor`. */
export interface ButlerAgentMessagePayload {
  agent_id: number;
  direction: 'TO_AGENT' | 'FROM_AGENT';
  message: Envelope<string>;
}
