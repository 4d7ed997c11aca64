import type { Socket } from 'socket.io';
import type { ChatMessage } from '../messages/chat-message.entity';
import { toEnvelope } from '../messages/envelope';
import type { MessageLogService } from '../messages/log/message-log.service';
import { REPLAY_PAGE_SIZE } from '../messages/log/message-log.service';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { SocketIdentity } from './handshake';
import type { OrderedDelivery } from './ordered-delivery';
import type { ReplayGate } from './replay-gate';

/** The Butler's side of an agent's handshake (PROTOCOL §6.5); the Butler implements it. */
export interface DirectiveDesk {
  /**
   * The stored directives of the agent's open actions (APPROVED and waiting, or EXECUTING), by id,
   * about to be sent: the waiting ones count as delivered from here on.
   */
  takeOpenDirectives(agentId: number): Promise<ChatMessage[]>;
}

/**
 * What a socket gets before live traffic (PROTOCOL §5, §6.5): an agent's open directives that its
 * replay does not contain, then the replay of every visible message above `auth.last_id` and
 * `replay:done`, then what arrived live meanwhile (held by the socket's gate).
 */
export class Backlog {
  constructor(
    private readonly deps: {
      messageLog: MessageLogService;
      ordered: OrderedDelivery;
      directives: DirectiveDesk;
      logger: Logger;
      metrics: Pick<Metrics, 'replayMessages'>;
    },
  ) {}

  /** Whether a socket needs a gate and a backlog at connection: every agent (its open directives), a replaying human. */
  wanted(kind: 'chat' | 'agents' | 'monitor', replayAfter: number | undefined): boolean {
    return kind === 'agents' || (kind === 'chat' && replayAfter !== undefined);
  }

  /** Sends the backlog of a socket that just connected, through its gate. */
  async send(socket: Socket, user: SocketIdentity, replayAfter: number | undefined, gate: ReplayGate): Promise<void> {
    const open = user.role === 'AGENT' ? await this.deps.directives.takeOpenDirectives(user.id).catch(this.failed(socket, user, gate, 0)) : [];
    if (!open) return;
    // Open directives at or below `last_id` are not in the replay, and come first: their ids are lower.
    const before = open.filter((m) => replayAfter === undefined || m.id <= replayAfter);
    for (const m of before) socket.emit('message', toEnvelope(m));
    const sent = before.map((m) => m.id);
    if (replayAfter === undefined) this.release(socket, gate, 0, sent);
    else await this.replay(socket, user, replayAfter, gate, sent);
  }

  /**
   * Sends every visible message above `afterId`, then `replay:done`, then releases the gate. When the
   * log cannot be read the socket is disconnected, to reconnect and retry.
   */
  async replay(socket: Socket, user: SocketIdentity, afterId: number, gate: ReplayGate, alsoSent: number[] = []): Promise<void> {
    let cursor = afterId;
    let count = 0;
    try {
      for (;;) {
        const page = await this.deps.messageLog.visibleAfter(user, cursor);
        for (const m of page) if (!gate.sentBefore(m.id)) socket.emit('message', toEnvelope(m));
        count += page.length;
        if (page.length) cursor = page[page.length - 1].id;
        if (page.length < REPLAY_PAGE_SIZE) break;
      }
    } catch (err) {
      this.failed(socket, user, gate, cursor)(err);
      return;
    }
    socket.emit('replay:done', { last_id: cursor });
    this.deps.metrics.replayMessages.observe(count);
    this.release(socket, gate, cursor, alsoSent);
  }

  /**
   * A resync after an outage: every visible message above `floor` (minus what the socket had), through
   * its gate. A socket whose replay still runs gets this one once that is over, from where it ended:
   * two replays on one gate would send the same messages twice, out of order with live ones.
   */
  async resync(socket: Socket, user: SocketIdentity, floor: number): Promise<void> {
    const running = this.deps.ordered.gateOf(socket);
    if (running?.holding) {
      await running.whenDone();
      if (!socket.connected) return;
    }
    const gate = this.deps.ordered.openGate(socket);
    await this.replay(socket, user, Math.max(floor, running?.replayedThrough ?? 0, gate.replayedThrough), gate);
  }

  private release(socket: Socket, gate: ReplayGate, lastId: number, alsoSent: number[]): void {
    gate.release(lastId, alsoSent);
    if (!gate.filtering) this.deps.ordered.closeGate(socket);
  }

  /** Without a complete backlog the client would silently miss messages: it reconnects and retries. */
  private failed(socket: Socket, user: SocketIdentity, gate: ReplayGate, cursor: number) {
    return (err: unknown): undefined => {
      this.deps.logger.error({ err, userId: user.id }, 'replay failed; disconnecting the socket');
      // Not released: what waited lies above what was replayed, and delivering it would move the
      // client's last_id past the messages this replay never sent.
      gate.abandon();
      socket.disconnect(true);
      return undefined;
    };
  }
}
