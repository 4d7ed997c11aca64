import type { ChatHistoryService } from '../messages/chat-history.service';
import type { ChatMessage } from '../messages/chat-message.entity';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { User } from '../users/user.entity';
import type { AuthRequest } from './auth-request.entity';
import type { AuthorizationStore } from './authorization.service';
import type { ButlerOutbox, Party } from './butler.port';
import { asText } from './memory';

const STUCK_APPROVED_MS = 30_000;

/**
 * The lifecycle of an authorization (PROTOCOL §6): file → decide → send the directive → the agent's
 * answer, expiry or timeout. Whoever wins a transition in the store announces it; nobody else does.
 */
export class AuthorizationFlow {
  constructor(
    private readonly deps: {
      history: Pick<ChatHistoryService, 'butlerMessageTo'>;
      clock: Clock;
      logger: Logger;
      store: AuthorizationStore;
      outbox: ButlerOutbox;
      agentTimeoutMs: number;
      /** Runs background work that shutdown waits for. */
      track: (work: Promise<unknown>) => void;
    },
  ) {}

  /** Stores a PENDING request and sends AUTH_REQUEST to the requester, every admin and `/monitor`. */
  async file(requester: Party, agent: User, command: string, reason: string) {
    const r = await this.deps.store.create({ requesterId: requester.id, agent, command, reason });
    await this.deps.outbox.authMessage('AUTH_REQUEST', r.requesterId, {
      action_id: r.actionId,
      target_agent_id: r.targetAgentId,
      target_agent_name: r.targetAgentName,
      command: r.command,
      reason: r.reason,
      status: r.status,
      requested_by: r.requesterId,
      expires_at: r.expiresAt.toISOString(),
    });
    return { action_id: r.actionId, status: r.status, expires_at: r.expiresAt.toISOString() };
  }

  /** An admin's decision (socket or REST). Throws 404/409; an approval then runs in the background. */
  async decide(adminId: number, actionId: string, approved: boolean): Promise<{ action_id: string; status: string }> {
    const r = await this.deps.store.decide(actionId, adminId, approved);
    await this.announce(r);
    if (approved) this.deps.track(this.execute(r).catch((err) => this.deps.logger.error({ err, actionId }, 'execution failed')));
    else await this.report(r);
    return { action_id: r.actionId, status: r.status };
  }

  /** Sends an approved action to its agent, once; fails it at once when the agent has no socket. */
  private async execute(approved: AuthRequest): Promise<void> {
    const { store, outbox, clock } = this.deps;
    if (!(await outbox.isOnline(approved.targetAgentId))) {
      const failed = await store.transition(approved.actionId, 'APPROVED', 'FAILED', { result: `${approved.targetAgentName} is offline` });
      if (failed) await this.finish(failed);
      return;
    }
    const executing = await store.transition(approved.actionId, 'APPROVED', 'EXECUTING', {
      deadlineAt: new Date(clock.now().getTime() + this.deps.agentTimeoutMs),
    });
    if (!executing) return;
    await this.announce(executing);
    // The directive's local_id is the action id: the message log stores it once, whatever happens.
    const agent: Party = { id: executing.targetAgentId, username: executing.targetAgentName, role: 'AGENT' };
    const directive = await outbox.chat(agent, `[DIRECTIVE] ${executing.command}`, { localId: executing.actionId });
    await store.transition(executing.actionId, 'EXECUTING', 'EXECUTING', { directiveId: directive.id });
  }

  /**
   * An agent's CHAT to the Butler: the answer to the directive it replies to, or (without `reply_to`)
   * to its oldest unanswered one. Anything else from an agent is ignored: never an instruction.
   */
  async agentAnswered(agentId: number, message: ChatMessage): Promise<void> {
    const actionId = await this.actionOf(agentId, message.replyTo);
    if (!actionId) return;
    const done = await this.deps.store.transition(actionId, 'EXECUTING', 'COMPLETED', { result: asText(JSON.parse(message.payload)) });
    if (done) await this.finish(done);
  }

  private async actionOf(agentId: number, replyTo: number | null): Promise<string | null> {
    if (replyTo) {
      const directive = await this.deps.history.butlerMessageTo(agentId, replyTo);
      return directive?.localId ?? null;
    }
    return (await this.deps.store.executingFor(agentId))?.actionId ?? null;
  }

  /** Expires, times out and unsticks overdue requests; run every second on every replica. */
  async sweep(): Promise<void> {
    const { store, clock } = this.deps;
    for (const r of await store.overdue(STUCK_APPROVED_MS)) {
      const now = clock.now();
      let moved: AuthRequest | null = null;
      if (r.status === 'PENDING') moved = await store.transition(r.actionId, 'PENDING', 'EXPIRED', {}, { expiresAt: { $lte: now } });
      else if (r.status === 'EXECUTING') {
        const seconds = Math.round(this.deps.agentTimeoutMs / 1000);
        moved = await store.transition(r.actionId, 'EXECUTING', 'FAILED', { result: `${r.targetAgentName} did not answer within ${seconds} s` }, { deadlineAt: { $lte: now } });
      } else if (r.status === 'APPROVED') {
        moved = await store.transition(r.actionId, 'APPROVED', 'FAILED', { result: 'interrupted before it reached the agent' });
      }
      if (moved) await this.finish(moved);
    }
  }

  private async finish(r: AuthRequest): Promise<void> {
    await this.announce(r);
    await this.report(r);
  }

  /** AUTH_STATUS_UPDATE to the requester, every admin and `/monitor`. */
  private announce(r: AuthRequest): Promise<void> {
    return this.deps.outbox.authMessage('AUTH_STATUS_UPDATE', r.requesterId, {
      action_id: r.actionId,
      status: r.status,
      decided_by: r.decidedBy,
      decided_at: r.decidedAt?.toISOString() ?? null,
      result: r.result,
    });
  }

  /** The outcome, told to the requester as a Butler CHAT. */
  private async report(r: AuthRequest): Promise<void> {
    const what = `"${r.command}" for ${r.targetAgentName}`;
    const text =
      r.status === 'COMPLETED'
        ? `${r.targetAgentName} finished "${r.command}":\n${r.result ?? ''}`
        : r.status === 'FAILED'
          ? `${what} failed: ${r.result ?? 'unknown reason'}.`
          : r.status === 'REJECTED'
            ? `An admin rejected ${what}.`
            : `Nobody decided on ${what} in time; the request expired.`;
    // Requesters are humans: the outbox routes by role, the name is not needed.
    await this.deps.outbox.chat({ id: r.requesterId, username: '', role: 'MEMBER' }, text);
  }
}
