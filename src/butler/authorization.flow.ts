import type { ChatHistoryService } from '../messages/chat-history.service';
import type { ChatMessage } from '../messages/chat-message.entity';
import type { Clock } from '../shared/clock';
import { DIRECTIVE_PREFIX, ERROR_PREFIX } from '../shared/protocol';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { User } from '../users/user.entity';
import type { AuthRequest } from './auth-request.entity';
import type { AuthorizationStore } from './authorization.service';
import type { ButlerOutbox, Party } from './butler.port';
import { asText } from './memory';

/** An APPROVED action with no deadline this long after its decision was interrupted before its directive was stored. */
const STUCK_APPROVED_MS = 30_000;

/**
 * The lifecycle of an authorization (PROTOCOL §6): file → decide → store the directive → deliver it
 * (now, or at the agent's next handshake on any replica) → the agent's answer, expiry or timeout.
 * Whoever wins a transition in the store announces it; nobody else does.
 */
export class AuthorizationFlow {
  constructor(
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      store: AuthorizationStore;
      outbox: ButlerOutbox;
      history: Pick<ChatHistoryService, 'butlerMessageTo' | 'sentWithLocalIds'>;
      agentTimeoutMs: number;
      deliveryTimeoutMs: number;
      metrics: Pick<Metrics, 'authorizations' | 'directiveDeliveryWait'>;
      /** Runs background work that shutdown waits for. */
      track: (work: Promise<unknown>) => void;
    },
  ) {}

  /** Stores a PENDING request and sends AUTH_REQUEST to the requester, every admin and `/monitor`. */
  async file(requester: Party, agent: User, command: string, reason: string) {
    const r = await this.deps.store.create({ requesterId: requester.id, agent, command, reason });
    this.deps.logger.info({ actionId: r.actionId, agentId: r.targetAgentId, requesterId: r.requesterId }, 'authorization requested');
    this.deps.metrics.authorizations.inc({ status: r.status });
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

  /**
   * An admin's decision (socket or REST), with an optional reason for a rejection. Throws 404/409; an
   * approval then runs in the background.
   */
  async decide(adminId: number, actionId: string, approved: boolean, reason?: string): Promise<{ action_id: string; status: string }> {
    const r = await this.deps.store.decide(actionId, adminId, approved, reason);
    this.deps.logger.info({ actionId, adminId, status: r.status }, 'authorization decided');
    await this.announce(r);
    if (approved) this.deps.track(this.execute(r).catch((err) => this.deps.logger.error({ err, actionId }, 'execution failed')));
    else await this.report(r);
    return { action_id: r.actionId, status: r.status };
  }

  /**
   * Stores the approved action's directive, which reaches the agent now if it has a socket, or at its
   * next handshake on any replica (see `openDirectives`); it waits in APPROVED until then, for
   * BUTLER_DELIVERY_TIMEOUT at most. With that timeout at 0 an offline agent fails the action at once.
   */
  private async execute(approved: AuthRequest): Promise<void> {
    const { store, outbox, clock } = this.deps;
    const { actionId } = approved;
    const agent: Party = { id: approved.targetAgentId, username: approved.targetAgentName, role: 'AGENT' };
    const online = await outbox.isOnline(agent.id);
    if (!online && this.deps.deliveryTimeoutMs === 0) {
      const failed = await store.transition(actionId, 'APPROVED', 'FAILED', { result: `${agent.username} is offline` });
      if (failed) await this.finish(failed);
      return;
    }
    // Announced before the directive goes out, so that EXECUTING comes before any answer.
    if (online) await this.delivered(actionId);
    else {
      const deliverBy = new Date(clock.now().getTime() + this.deps.deliveryTimeoutMs);
      if (!(await store.transition(actionId, 'APPROVED', 'APPROVED', { deadlineAt: deliverBy }))) return;
      this.deps.logger.info({ actionId, agentId: agent.id }, 'directive waits for its agent to connect');
    }
    // The directive's local_id is the action id: the message log stores it once, whatever happens.
    const directive = await outbox.chat(agent, `${DIRECTIVE_PREFIX}${approved.command}`, { localId: actionId });
    await store.record(actionId, { directiveId: directive.id });
    // An agent that connected while the directive was being stored got it live, not at its handshake.
    if (!online && (await outbox.isOnline(agent.id))) await this.delivered(actionId);
  }

  /** The agent has its directive: APPROVED → EXECUTING, and the answer's deadline starts. */
  private async delivered(actionId: string): Promise<void> {
    const deadlineAt = new Date(this.deps.clock.now().getTime() + this.deps.agentTimeoutMs);
    const executing = await this.deps.store.transition(actionId, 'APPROVED', 'EXECUTING', { deadlineAt });
    if (!executing) return;
    this.deps.logger.info({ actionId, agentId: executing.targetAgentId }, 'directive delivered');
    if (executing.decidedAt) this.deps.metrics.directiveDeliveryWait.observe(Math.max(0, this.deps.clock.now().getTime() - executing.decidedAt.getTime()) / 1000);
    await this.announce(executing);
  }

  /**
   * The stored directives of an agent's open actions (APPROVED and waiting, or EXECUTING), by id, for
   * its handshake to send: the waiting ones become EXECUTING first.
   */
  async takeOpenDirectives(agentId: number): Promise<ChatMessage[]> {
    const open = await this.deps.store.openFor(agentId);
    const directives = await this.deps.history.sentWithLocalIds('BUTLER', agentId, open.map((r) => r.actionId));
    const waiting = new Set(open.filter((r) => r.status === 'APPROVED').map((r) => r.actionId));
    for (const d of directives) if (waiting.has(d.localId!)) await this.delivered(d.localId!);
    return directives;
  }

  /**
   * An agent's CHAT to the Butler: the answer to the directive it replies to, or (without `reply_to`)
   * to its oldest open one; `[ERROR] <why>` fails it. Anything else from an agent is ignored: never an
   * instruction. An answer
   * may beat the EXECUTING update (the agent was online when the directive was stored and left before
   * it was counted as delivered): it completes an APPROVED action too.
   */
  async agentAnswered(agentId: number, message: ChatMessage): Promise<void> {
    const actionId = await this.actionOf(agentId, message.replyTo);
    if (!actionId) return;
    const text = asText(JSON.parse(message.payload));
    // An answer that starts with `[ERROR] ` (the SDK's for a handler that threw) fails the action.
    const failed = text.startsWith(ERROR_PREFIX);
    const outcome = failed ? 'FAILED' : 'COMPLETED';
    const result = failed ? text.slice(ERROR_PREFIX.length).trim() || 'the agent reported an error' : text;
    const { store } = this.deps;
    const done = (await store.transition(actionId, 'EXECUTING', outcome, { result })) ?? (await store.transition(actionId, 'APPROVED', outcome, { result }));
    if (done) await this.finish(done);
  }

  private async actionOf(agentId: number, replyTo: number | null): Promise<string | null> {
    if (replyTo) {
      const directive = await this.deps.history.butlerMessageTo(agentId, replyTo);
      return directive?.localId ?? null;
    }
    return (await this.deps.store.oldestOpenFor(agentId))?.actionId ?? null;
  }

  /** Expires, times out and unsticks overdue requests; run every second on every replica. */
  async sweep(): Promise<void> {
    const { store, clock } = this.deps;
    for (const r of await store.overdue(STUCK_APPROVED_MS)) {
      const now = clock.now();
      const late = { deadlineAt: { $lte: now } };
      let moved: AuthRequest | null = null;
      if (r.status === 'PENDING') moved = await store.transition(r.actionId, 'PENDING', 'EXPIRED', {}, { expiresAt: { $lte: now } });
      else if (r.status === 'EXECUTING') {
        moved = await store.transition(r.actionId, 'EXECUTING', 'FAILED', { result: `${r.targetAgentName} did not answer within ${spoken(this.deps.agentTimeoutMs)}` }, late);
      } else if (r.status === 'APPROVED' && r.deadlineAt) {
        moved = await store.transition(r.actionId, 'APPROVED', 'FAILED', { result: `${r.targetAgentName} did not connect within ${spoken(this.deps.deliveryTimeoutMs)}` }, late);
      } else if (r.status === 'APPROVED') {
        moved = await store.transition(r.actionId, 'APPROVED', 'FAILED', { result: 'interrupted before it reached the agent' }, { deadlineAt: null });
      }
      if (moved) await this.finish(moved);
    }
  }

  private async finish(r: AuthRequest): Promise<void> {
    this.deps.logger.info({ actionId: r.actionId, agentId: r.targetAgentId, status: r.status }, 'authorization finished');
    await this.announce(r);
    await this.report(r);
  }

  /** AUTH_STATUS_UPDATE to the requester, every admin and `/monitor`. */
  private announce(r: AuthRequest): Promise<void> {
    this.deps.metrics.authorizations.inc({ status: r.status });
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
            ? `An admin rejected ${what}${r.result ? `: ${r.result}` : '.'}`
            : `Nobody decided on ${what} in time; the request expired.`;
    // Requesters are humans: the outbox routes by role, the name is not needed.
    await this.deps.outbox.chat({ id: r.requesterId, username: '', role: 'MEMBER' }, text);
  }
}

/** A duration as people say it: `60 s`, `10 min`, `1.5 h`. */
function spoken(ms: number): string {
  if (ms >= 3_600_000 && ms % 360_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 6_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}
