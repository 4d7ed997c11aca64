import { randomBytes } from 'node:crypto';
import { RequestContext } from '@mikro-orm/core';
import type { Config } from '../config/config';
import type { Orm } from '../db/orm';
import type { ChatHistoryService } from '../messages/chat-history.service';
import type { ChatMessage } from '../messages/chat-message.entity';
import { toEnvelope } from '../messages/envelope';
import type { SystemLogService } from '../messages/system-log.service';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { UsersService } from '../users/users.service';
import { AuthorizationFlow } from './authorization.flow';
import { AuthorizationStore } from './authorization.service';
import type { Brain } from './brain';
import type { ButlerOutbox, Party } from './butler.port';
import { asText, ConversationMemory } from './memory';
import { RulesBrain } from './rules-brain';
import { butlerTools } from './tools';

const SWEEP_MS = 1_000;

export interface ButlerDeps {
  config: Config;
  orm: Orm;
  clock: Clock;
  logger: Logger;
  users: UsersService;
  systemLog: SystemLogService;
  history: ChatHistoryService;
  outbox: ButlerOutbox;
  /** The brain that answers: `loadBrain(config)`, or a fake (tests). */
  brain: Brain;
  metrics: Pick<Metrics, 'butlerTurns' | 'butlerTurnDuration' | 'authorizations' | 'directiveDeliveryWait'>;
}

/**
 * The configured brain: the model when BUTLER_BASE_URL/BUTLER_MODEL are set, the rules otherwise.
 * The model's module is imported only then: the `openai` client is large, and every replica without a
 * model would carry it in memory for nothing.
 */
export async function loadBrain(config: Config): Promise<Brain> {
  const { baseUrl, apiToken, model, turnTimeoutMs } = config.butler;
  if (!baseUrl || !model) return new RulesBrain();
  const { LlmBrain } = await import('./llm-brain');
  return new LlmBrain({ baseUrl, apiToken, model, timeoutMs: turnTimeoutMs });
}

/**
 * The in-process coordinator (PROTOCOL §6). It consumes the CHATs addressed to it that this replica
 * received: a human's starts a turn (one at a time per user, users in parallel, each under a
 * deadline); an agent's can only answer one of the Butler's directives.
 */
export class Butler {
  readonly brain: Brain;
  readonly store: AuthorizationStore;
  readonly flow: AuthorizationFlow;
  private readonly memory: ConversationMemory;
  private readonly log: Logger;
  private readonly turns = new Map<number, Promise<void>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private self!: Party;

  constructor(private readonly deps: ButlerDeps) {
    this.brain = deps.brain;
    this.log = deps.logger.child({ module: 'butler', mode: this.brain.mode });
    this.store = new AuthorizationStore(deps.orm, deps.clock, deps.config.butler.authTimeoutMs);
    this.flow = new AuthorizationFlow({
      clock: deps.clock,
      logger: this.log,
      store: this.store,
      outbox: deps.outbox,
      history: deps.history,
      agentTimeoutMs: deps.config.butler.agentTimeoutMs,
      deliveryTimeoutMs: deps.config.butler.deliveryTimeoutMs,
      metrics: deps.metrics,
      track: (w) => this.track(w),
    });
    this.memory = new ConversationMemory(deps.history, this.brain);
  }

  async start(): Promise<void> {
    const butler = await RequestContext.create(this.deps.orm.em, () => this.deps.users.getButler());
    this.self = { id: butler.id, username: butler.username, role: 'BUTLER' };
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Chat listener: a stored CHAT was delivered. Runs inside the delivery; must not block. */
  onChat(message: ChatMessage, sender: Party, target: Party | null): void {
    if (target?.role !== 'BUTLER') return;
    if (sender.role === 'AGENT') {
      this.deps.outbox.mirrorFromAgent(sender.id, toEnvelope(message));
      this.track(this.job(() => this.flow.agentAnswered(sender.id, message)));
    } else if (sender.role === 'ADMIN' || sender.role === 'MEMBER') {
      this.enqueueTurn(sender, message);
    }
  }

  /** The hub's DirectiveDesk: an agent's open directives, which its every handshake delivers. */
  takeOpenDirectives(agentId: number): Promise<ChatMessage[]> {
    // No ORM context of its own: every look-up here forks its own, and this runs at every agent
    // handshake (a context per handshake was garbage that 20,000 reconnecting agents left behind).
    return this.flow.takeOpenDirectives(agentId);
  }

  private enqueueTurn(user: Party, message: ChatMessage): void {
    const previous = this.turns.get(user.id) ?? Promise.resolve();
    // A turn never throws (it ends every stream itself), but one that did must not skip the rest.
    const next = previous.catch(() => undefined).then(() => this.turn(user, message));
    this.turns.set(user.id, next);
    this.track(next);
    void next.finally(() => {
      if (this.turns.get(user.id) === next) this.turns.delete(user.id);
    });
  }

  /** One turn: stream chunks, one stored CHAT with the whole text, then CHAT_STREAM_END, always. */
  private async turn(user: Party, message: ChatMessage): Promise<void> {
    const streamId = `s_${randomBytes(9).toString('base64url')}`;
    const { outbox } = this.deps;
    let text = '';
    let failed = false;
    const startedAt = performance.now();
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(new Error('turn deadline')), this.deps.config.butler.turnTimeoutMs);
    try {
      await this.job(async () => {
        const history = await this.memory.load(user.id, this.self.id, message.id, controller.signal);
        const tools = butlerTools(this.deps, (agent, command, reason) => this.flow.file(user, agent, command, reason));
        await this.brain.reply(
          { username: user.username, text: asText(JSON.parse(message.payload)), history },
          {
            emit: (chunk) => {
              if (controller.signal.aborted || !chunk) return;
              text += chunk;
              outbox.stream(user, 'CHAT_STREAM', streamId, chunk, message.id);
            },
            tools,
            signal: controller.signal,
          },
        );
        // The openai stream ends quietly when aborted: a reply cut off by the deadline is not complete.
        controller.signal.throwIfAborted();
      });
      if (!text.trim()) text = 'I have nothing to add.';
    } catch (err) {
      failed = true;
      this.log.warn({ err: err instanceof Error ? err.message : String(err), userId: user.id }, 'turn failed');
      text += `${text ? '\n\n' : ''}Sorry, I could not finish this answer: ${plainReason(err, controller.signal.aborted, this.deps.config.butler.turnTimeoutMs, this.brain)}.`;
    } finally {
      clearTimeout(deadline);
    }
    try {
      await outbox.chat(user, text, { streamId, replyTo: message.id });
    } catch (err) {
      this.log.error({ err, userId: user.id }, 'could not store the reply');
    }
    outbox.stream(user, 'CHAT_STREAM_END', streamId, null, message.id);
    this.deps.metrics.butlerTurns.inc({ outcome: failed ? 'failed' : 'ok' });
    this.deps.metrics.butlerTurnDuration.observe((performance.now() - startedAt) / 1000);
  }

  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    const run = this.job(() => this.flow.sweep())
      .catch((err) => this.log.error({ err }, 'authorization sweep failed'))
      .finally(() => (this.sweeping = false));
    this.track(run);
  }

  /** One ORM context per Butler job. */
  private job<T>(work: () => Promise<T>): Promise<T> {
    return RequestContext.create(this.deps.orm.em, work);
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.catch(() => undefined).finally(() => this.inFlight.delete(work));
  }

  /** Stops the sweeper and waits for turns and decisions in progress. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }
}

/**
 * What went wrong, in words a user understands. A model call aborted by the SDK can only be this
 * deadline's doing (the turn's signal is the only one it gets), so `timedOut` covers it.
 */
function plainReason(err: unknown, timedOut: boolean, turnTimeoutMs: number, brain: Brain): string {
  if (timedOut) {
    const seconds = Math.round(turnTimeoutMs / 100) / 10;
    return `it took longer than ${seconds} second${seconds === 1 ? '' : 's'}`;
  }
  const explained = brain.explain?.(err);
  if (explained) return explained;
  if (connectionLost(err)) return 'the connection to the language model broke off';
  return 'something went wrong on my side';
}

/** A response body cut off mid-stream: fetch (undici) rejects with `TypeError: terminated`, unwrapped by the SDK. */
function connectionLost(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return (err instanceof TypeError && err.message === 'terminated') || ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(cause?.code ?? '');
}
