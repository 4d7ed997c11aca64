import { EntitySchema } from '@mikro-orm/core';

export const AUTH_STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'EXECUTING', 'COMPLETED', 'FAILED'] as const;
export type AuthStatus = (typeof AUTH_STATUSES)[number];

/**
 * An action the Butler wants an agent to take, waiting for (or past) a human decision (PROTOCOL §6).
 * Every transition is a conditional UPDATE on `status`, so the first decision wins on any replica
 * and expiry happens once.
 */
export class AuthRequest {
  id!: number;
  actionId!: string;
  requesterId!: number;
  targetAgentId!: number;
  targetAgentName!: string;
  command!: string;
  reason!: string;
  status!: AuthStatus;
  decidedBy: number | null = null;
  decidedAt: Date | null = null;
  expiresAt!: Date;
  createdAt!: Date;
  result: string | null = null;
  /** The CHAT id of the `[DIRECTIVE]` sent to the agent; its answer replies to it. */
  directiveId: number | null = null;
  /**
   * When the action fails if it is still in its status: an EXECUTING one for want of an answer, an
   * APPROVED one whose directive waits for its agent to connect (BUTLER_DELIVERY_TIMEOUT).
   */
  deadlineAt: Date | null = null;
  updatedAt!: Date;
}

export const AuthRequestSchema = new EntitySchema<AuthRequest>({
  class: AuthRequest,
  tableName: 'auth_requests',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    actionId: { type: 'string', length: 64, unique: 'auth_requests_action_id_unique' },
    requesterId: { type: 'integer' },
    targetAgentId: { type: 'integer' },
    targetAgentName: { type: 'string', length: 64 },
    command: { type: 'text' },
    reason: { type: 'text' },
    status: { type: 'string', length: 16 },
    decidedBy: { type: 'integer', nullable: true },
    decidedAt: { type: 'datetime', length: 3, nullable: true },
    expiresAt: { type: 'datetime', length: 3 },
    createdAt: { type: 'datetime', length: 3 },
    result: { type: 'text', nullable: true },
    directiveId: { type: 'integer', nullable: true },
    deadlineAt: { type: 'datetime', length: 3, nullable: true },
    updatedAt: { type: 'datetime', length: 3 },
  },
  indexes: [
    { name: 'auth_requests_status_expires_index', properties: ['status', 'expiresAt'] },
    { name: 'auth_requests_requester_index', properties: ['requesterId', 'id'] },
    { name: 'auth_requests_agent_status_index', properties: ['targetAgentId', 'status', 'directiveId'] },
  ],
});
