import { randomBytes } from 'node:crypto';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { z } from 'zod';
import type { Orm } from '../db/orm';
import type { Clock } from '../shared/clock';
import { conflict, notFound } from '../shared/errors';
import { BatchLoader } from '../shared/batch-loader';
import { cursorSchema, limitSchema } from '../shared/paging';
import { AUTH_STATUSES, AuthRequest, type AuthStatus } from './auth-request.entity';

export const authListQuerySchema = z.object({
  status: z.enum(AUTH_STATUSES, { error: `status must be one of ${AUTH_STATUSES.join(', ')}` }).optional(),
  before_id: cursorSchema,
  limit: limitSchema,
});
export type AuthListQuery = z.infer<typeof authListQuerySchema>;

/** Why an admin rejected a request (optional, PROTOCOL §6): stored in `result`, told to the requester. */
export const rejectionReasonSchema = z
  .string({ error: 'reason must be a string' })
  .max(500, 'reason must be at most 500 characters')
  .refine((v) => !v.includes('\u0000') && !/\p{Cs}/u.test(v), 'reason must be text without NUL characters or lone surrogates')
  .transform((v) => v.trim() || undefined)
  .optional();

/** The REST shape of PROTOCOL §2 (`id` is the request's own). */
export interface AuthRequestView {
  id: number;
  action_id: string;
  target_agent_id: number;
  target_agent_name: string;
  command: string;
  reason: string;
  status: AuthStatus;
  requested_by: number;
  decided_by: number | null;
  decided_at: string | null;
  expires_at: string;
  created_at: string;
  result: string | null;
}

export function authRequestView(r: AuthRequest): AuthRequestView {
  return {
    id: r.id,
    action_id: r.actionId,
    target_agent_id: r.targetAgentId,
    target_agent_name: r.targetAgentName,
    command: r.command,
    reason: r.reason,
    status: r.status,
    requested_by: r.requesterId,
    decided_by: r.decidedBy,
    decided_at: r.decidedAt?.toISOString() ?? null,
    expires_at: r.expiresAt.toISOString(),
    created_at: r.createdAt.toISOString(),
    result: r.result,
  };
}

/**
 * The authorization state machine in the database. Every transition is one conditional UPDATE
 * (`... where status = <expected>`), so whichever replica's update changes the row has won it, and
 * only the winner announces or acts: a decision is taken once, an expiry happens once, and an
 * approved action is sent once.
 */
export class AuthorizationStore {
  /** Open actions by agent, for handshakes: a burst of reconnecting agents shares one query per group. */
  private readonly openLoader = new BatchLoader<number, AuthRequest[]>((ids) => this.openForMany(ids));

  constructor(
    private readonly orm: Orm,
    private readonly clock: Clock,
    private readonly authTimeoutMs: number,
  ) {}

  private em(): SqlEntityManager {
    return this.orm.em.fork() as SqlEntityManager;
  }

  async create(input: { requesterId: number; agent: { id: number; username: string }; command: string; reason: string }): Promise<AuthRequest> {
    const em = this.em();
    const now = this.clock.now();
    const request = em.create(AuthRequest, {
      actionId: `act_${randomBytes(12).toString('base64url')}`,
      requesterId: input.requesterId,
      targetAgentId: input.agent.id,
      targetAgentName: input.agent.username,
      command: input.command,
      reason: input.reason,
      status: 'PENDING',
      decidedBy: null,
      decidedAt: null,
      expiresAt: new Date(now.getTime() + this.authTimeoutMs),
      createdAt: now,
      result: null,
      directiveId: null,
      deadlineAt: null,
      updatedAt: now,
    });
    await em.persistAndFlush(request);
    return request;
  }

  async get(actionId: string): Promise<AuthRequest | null> {
    return this.em().findOne(AuthRequest, { actionId });
  }

  /** Newest first; a member sees only their own requests. */
  async list(query: AuthListQuery, requesterId?: number): Promise<AuthRequestView[]> {
    const rows = await this.em().find(
      AuthRequest,
      {
        ...(query.status ? { status: query.status } : {}),
        ...(query.before_id ? { id: { $lt: query.before_id } } : {}),
        ...(requesterId !== undefined ? { requesterId } : {}),
      },
      { orderBy: { id: 'desc' }, limit: query.limit },
    );
    return rows.map(authRequestView);
  }

  /** Moves a request from `from` to `to` with extra fields; the returned row is set only if this call won. */
  async transition(actionId: string, from: AuthStatus, to: AuthStatus, fields: Partial<AuthRequest> = {}, extraWhere: object = {}): Promise<AuthRequest | null> {
    const em = this.em();
    const changed = await em.nativeUpdate(
      AuthRequest,
      { actionId, status: from, ...extraWhere },
      { ...fields, status: to, updatedAt: this.clock.now() },
    );
    return changed === 1 ? em.findOne(AuthRequest, { actionId }, { refresh: true }) : null;
  }

  /** Sets fields whatever the status (the directive's id, once it is stored). */
  async record(actionId: string, fields: Partial<AuthRequest>): Promise<void> {
    await this.em().nativeUpdate(AuthRequest, { actionId }, { ...fields, updatedAt: this.clock.now() });
  }

  /**
   * An admin's decision: the first one wins; a rejection's reason is its `result`. A request that is unknown is a 404; one already decided,
   * or past its `expires_at` (even before the sweeper marked it), is a 409.
   */
  async decide(actionId: string, adminId: number, approved: boolean, reason?: string): Promise<AuthRequest> {
    const now = this.clock.now();
    const won = await this.transition(
      actionId,
      'PENDING',
      approved ? 'APPROVED' : 'REJECTED',
      { decidedBy: adminId, decidedAt: now, result: approved ? null : (reason ?? null) },
      { expiresAt: { $gt: now } },
    );
    if (won) return won;
    const existing = await this.get(actionId);
    if (!existing) throw notFound('No such authorization request');
    if (existing.status === 'PENDING' || existing.status === 'EXPIRED') throw conflict('This authorization request has expired');
    throw conflict(`This authorization request was already decided (${existing.status})`);
  }

  /**
   * Candidates for the sweeper: pending past expiry; executing, or approved and waiting for the agent,
   * past their deadline; approved without a deadline for a while (interrupted before the directive
   * was stored).
   */
  async overdue(stuckApprovedMs: number): Promise<AuthRequest[]> {
    const now = this.clock.now();
    return this.em().find(
      AuthRequest,
      {
        $or: [
          { status: 'PENDING', expiresAt: { $lte: now } },
          { status: 'EXECUTING', deadlineAt: { $lte: now } },
          { status: 'APPROVED', deadlineAt: { $lte: now } },
          { status: 'APPROVED', deadlineAt: null, updatedAt: { $lte: new Date(now.getTime() - stuckApprovedMs) } },
        ],
      },
      { orderBy: { id: 'asc' }, limit: 100 },
    );
  }

  /**
   * An agent's open actions, oldest first: EXECUTING, or APPROVED (their directive, once stored,
   * waits for the agent: PROTOCOL §6.4-5). Filtered by status only, so that a handshake between the
   * directive's commit and the update that records it still finds it. Asked at every agent handshake:
   * concurrent ones share one query.
   */
  async openFor(agentId: number): Promise<AuthRequest[]> {
    return (await this.openLoader.get(agentId)) ?? [];
  }

  /** How many requests wait for a decision (the pending gauge). */
  countPending(): Promise<number> {
    return this.em().count(AuthRequest, { status: 'PENDING', expiresAt: { $gt: this.clock.now() } });
  }

  /**
   * The action an agent's answer without `reply_to` is for: its oldest directive in its hands
   * (EXECUTING), else its oldest stored one that waits (APPROVED), by directive id.
   */
  async oldestOpenFor(agentId: number): Promise<AuthRequest | null> {
    const rows = await this.em().find(AuthRequest, { targetAgentId: agentId, status: { $in: ['APPROVED', 'EXECUTING'] } }, { orderBy: { id: 'asc' } });
    // A directive id is recorded just after the directive is stored: one not recorded yet sorts last.
    const inHands = (r: AuthRequest) => (r.status === 'EXECUTING' ? 0 : 1);
    const directive = (r: AuthRequest) => r.directiveId ?? Number.MAX_SAFE_INTEGER;
    rows.sort((a, b) => inHands(a) - inHands(b) || directive(a) - directive(b) || a.id - b.id);
    return rows[0] ?? null;
  }

  private async openForMany(agentIds: number[]): Promise<Map<number, AuthRequest[]>> {
    const rows = await this.em().find(AuthRequest, { targetAgentId: { $in: agentIds }, status: { $in: ['APPROVED', 'EXECUTING'] } }, { orderBy: { id: 'asc' } });
    const byAgent = new Map<number, AuthRequest[]>();
    for (const r of rows) byAgent.set(r.targetAgentId, [...(byAgent.get(r.targetAgentId) ?? []), r]);
    return byAgent;
  }
}
