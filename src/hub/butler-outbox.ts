import type { ButlerOutbox, Party } from '../butler/butler.port';
import type { Clock } from '../shared/clock';
import { withPayload } from '../messages/envelope';
import type { MessageLogService } from '../messages/log/message-log.service';
import type { Envelope } from '../shared/protocol';
import type { Delivery } from './delivery';
import type { PresenceTracker } from './presence';

/** The hub's side of the Butler port: the Butler's messages go through the log and the rooms. */
export class HubButlerOutbox implements ButlerOutbox {
  constructor(
    private readonly deps: {
      self: () => Party;
      messageLog: MessageLogService;
      delivery: () => Delivery;
      presence: PresenceTracker;
      clock: Clock;
      systemEnvelope: (type: 'BUTLER_AGENT_MESSAGE', payload: unknown) => Envelope;
    },
  ) {}

  async chat(to: Party, text: string, opts: { streamId?: string; replyTo?: number | null; localId?: string } = {}): Promise<{ id: number }> {
    const self = this.deps.self();
    const { message } = await this.deps.messageLog.append(
      {
        type: 'CHAT',
        localId: opts.localId ?? null,
        senderId: self.id,
        senderName: self.username,
        senderRole: 'BUTLER',
        targetId: to.id,
        payload: JSON.stringify(text),
        streamId: opts.streamId ?? null,
        replyTo: opts.replyTo ?? null,
      },
      ({ message: stored, duplicate }) => {
        if (duplicate) return;
        const envelope = withPayload(stored, text);
        this.deps.delivery().conversation(envelope, self, to);
        if (to.role === 'AGENT') this.mirror(to.id, 'TO_AGENT', envelope);
      },
    );
    return { id: message.id };
  }

  stream(to: Party, type: 'CHAT_STREAM' | 'CHAT_STREAM_END', streamId: string, text: string | null, replyTo: number | null): void {
    const self = this.deps.self();
    this.deps.delivery().conversation(
      {
        type,
        sender_id: self.id,
        sender_name: self.username,
        sender_role: 'BUTLER',
        target_id: to.id,
        payload: text,
        timestamp: this.deps.clock.now().toISOString(),
        stream_id: streamId,
        reply_to: replyTo,
      },
      self,
      to,
    );
  }

  async authMessage(type: 'AUTH_REQUEST' | 'AUTH_STATUS_UPDATE', requesterId: number, payload: unknown): Promise<void> {
    const self = this.deps.self();
    await this.deps.messageLog.append(
      {
        type,
        senderId: self.id,
        senderName: self.username,
        senderRole: 'BUTLER',
        targetId: requesterId,
        audience: 'ADMINS',
        payload: JSON.stringify(payload),
      },
      ({ message }) => this.deps.delivery().toRequesterAndAdmins(withPayload(message, payload), requesterId),
    );
  }

  mirrorFromAgent(agentId: number, envelope: Envelope): void {
    this.mirror(agentId, 'FROM_AGENT', envelope);
  }

  private mirror(agentId: number, direction: 'TO_AGENT' | 'FROM_AGENT', message: Envelope): void {
    this.deps.delivery().toMonitors(this.deps.systemEnvelope('BUTLER_AGENT_MESSAGE', { agent_id: agentId, direction, message }));
  }

  async isOnline(agentId: number): Promise<boolean> {
    return (await this.deps.presence.onlineIds([agentId])).has(agentId);
  }
}
