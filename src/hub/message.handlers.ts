import { RequestContext } from '@mikro-orm/core';
import type { Socket } from 'socket.io';
import type { Config } from '../config/config';
import type { Orm } from '../db/orm';
import type { ChatMessage } from '../messages/chat-message.entity';
import { isoTime, withPayload } from '../messages/envelope';
import type { MessageLogService } from '../messages/log/message-log.service';
import type { SystemLogService } from '../messages/system-log.service';
import type { LogLevel } from '../messages/system-log.entity';
import type { Clock } from '../shared/clock';
import { AppError, forbidden, notFound, toErrorBody } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { Ack, Envelope } from '../shared/protocol';
import { User } from '../users/user.entity';
import type { Delivery } from './delivery';
import type { Directory } from './directory';
import { ParsedEnvelope, parseEnvelope, type IncomingEnvelope } from './envelope.schema';
import type { SocketData, SocketIdentity } from './handshake';
import { TokenBucket } from './rate-limiter';

/** Consumers of stored conversation messages (the Butler); called after delivery. */
export interface HubListener {
  onChat?(message: ChatMessage, sender: SocketIdentity, target: SocketIdentity | null): void;
  /** Decides an AUTH_RESPONSE; without a listener that knows the action it is NOT_FOUND. */
  onAuthResponse?(admin: SocketIdentity, actionId: string, approved: boolean, reason?: string): Promise<Ack>;
}

export interface HandlerDeps {
  config: Config;
  orm: Orm;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  systemLog: SystemLogService;
  messageLog: MessageLogService;
  delivery: Delivery;
  directory: Directory;
  /** Registers work that shutdown must wait for. */
  track(work: Promise<unknown>): void;
  hub: { systemLogStored(entry: Awaited<ReturnType<SystemLogService['store']>>, sender: SocketIdentity): void; announcePresence(id: number): Promise<void> };
}

/**
 * What a socket needs once it sends: its rate limit, its order, and the CHATs still on their way.
 * Made on the first message, not at connection: most agents hold an idle socket for hours, and
 * 20,000 of them must fit in one process.
 */
interface Lane {
  bucket: TokenBucket;
  /** The ordered step of the socket's latest message that had to wait (see `receive`). */
  ordered: Promise<unknown>;
  /** How many of those steps have not finished their ordered part. */
  waiting: number;
  /** Settles (either way) when the socket's latest CHAT is delivered or has failed. */
  lastChat: Promise<unknown>;
}

const settled: Promise<unknown> = Promise.resolve();
const ignore = () => undefined;

/**
 * The `message` event: validation, the per-socket rate limit and order, then one handler per type.
 * Every refusal is an ack `{ok:false, error, code}`; the socket stays connected.
 */
export class MessageHandlers {
  readonly listeners: HubListener[] = [];
  private readonly log: Logger;
  private readonly lanes = new WeakMap<Socket, Lane>();

  constructor(private readonly deps: HandlerDeps) {
    this.log = deps.logger.child({ module: 'messages' });
  }

  attach(socket: Socket): void {
    socket.on('message', (raw: unknown, ack?: unknown) => this.receive(socket, raw, ack));
  }

  // Messages from one socket are handled one after another, in the order they were sent. A CHAT's
  // ordered part ends when it is queued in the message log (which commits and delivers in queue
  // order), so a fast sender's CHATs share commit groups instead of waiting for one each. Any other
  // type waits until the CHATs before it are delivered: a stream's end never overtakes its final CHAT.
  //
  // The common case, a CHAT to a known target from a socket with nothing waiting, is queued in the
  // log at once, without a promise chain: it is most of the traffic, and each promise costs a little
  // under Node 20's async hooks (on for MikroORM's request context). Anything else takes its turn.
  private receive(socket: Socket, raw: unknown, ack: unknown): void {
    const reply = (a: Ack) => {
      if (!a.ok) this.deps.metrics.messagesRefused.inc({ code: a.code });
      if (typeof ack === 'function') ack(a);
    };
    const lane = this.laneOf(socket);
    if (!lane.bucket.take()) return reply({ ok: false, error: 'Too many messages; slow down', code: 'RATE_LIMITED' });
    const sender = (socket.data as SocketData).user;
    let parsed: ParsedEnvelope | undefined;
    if (lane.waiting === 0) {
      try {
        parsed = parseEnvelope(raw, sender.role, this.deps.config.maxPayloadBytes);
      } catch (err) {
        return reply(this.refusal(err));
      }
      const target = parsed.envelope.type === 'CHAT' ? this.knownTarget(sender, parsed.envelope) : undefined;
      if (target !== undefined) {
        const done = this.chat(socket, sender, parsed, target);
        lane.lastChat = done;
        done.then(reply, (err) => reply(this.refusal(err)));
        return;
      }
    }
    lane.waiting++;
    const first = parsed;
    const step = lane.ordered.then(() => this.handle(socket, sender, first ?? raw, lane));
    lane.ordered = step.then(
      () => lane.waiting--,
      () => lane.waiting--,
    );
    const done = step.then((r) => r.done).then(reply, (err) => reply(this.refusal(err)));
    this.deps.track(done);
  }

  private laneOf(socket: Socket): Lane {
    let lane = this.lanes.get(socket);
    if (!lane) {
      lane = { bucket: new TokenBucket(this.deps.config.socketRateLimit), ordered: settled, waiting: 0, lastChat: settled };
      this.lanes.set(socket, lane);
    }
    return lane;
  }

  private refusal(err: unknown): Ack {
    const { status, body } = toErrorBody(err, this.deps.config.production);
    if (status >= 500) this.log.error({ err }, 'message failed');
    return { ok: false, ...body };
  }

  /** The ordered step of one message (raw, or parsed already); `done` settles with its ack. */
  private async handle(socket: Socket, sender: SocketIdentity, message: unknown, lane: Lane): Promise<{ done: Promise<Ack> }> {
    const parsed = message instanceof ParsedEnvelope ? message : parseEnvelope(message, sender.role, this.deps.config.maxPayloadBytes);
    const { envelope } = parsed;
    if (envelope.type === 'CHAT') {
      const done = this.chat(socket, sender, parsed, await this.target(sender, envelope));
      lane.lastChat = done;
      return { done };
    }
    await lane.lastChat.then(ignore, ignore);
    return { done: Promise.resolve(await this.other(sender, envelope)) };
  }

  private async other(sender: SocketIdentity, envelope: IncomingEnvelope): Promise<Ack> {
    switch (envelope.type) {
      case 'CHAT_STREAM':
      case 'CHAT_STREAM_END':
        return this.stream(sender, envelope);
      case 'SYSTEM_LOG':
        return this.systemLog(sender, envelope.payload as { level: LogLevel; content: string });
      case 'AGENT_STATUS':
        return this.agentStatus(sender, envelope.payload as { status: string; report?: string | null });
      case 'AUTH_RESPONSE':
        return this.authResponse(sender, envelope.payload as { action_id: string; approved: boolean });
      default:
        throw forbidden(`${envelope.type} cannot be sent by clients`);
    }
  }

  /** Resolves `target_id`: a user, or `null` for an admin's broadcast. */
  private async target(sender: SocketIdentity, envelope: IncomingEnvelope): Promise<SocketIdentity | null> {
    if (!envelope.target_id) return broadcastBy(sender);
    const target = await this.deps.directory.find(envelope.target_id);
    if (!target) throw notFound(`No user with id ${envelope.target_id}`);
    return target;
  }

  /** The target when it can be known without waiting: a broadcast, or a user in the directory's cache. */
  private knownTarget(sender: SocketIdentity, envelope: IncomingEnvelope): SocketIdentity | null | undefined {
    if (!envelope.target_id) return sender.role === 'ADMIN' ? null : undefined; // a refusal takes the slow path
    return this.deps.directory.cached(envelope.target_id) ?? undefined;
  }

  /** Queues a CHAT in the log; resolves with its ack after commit and delivery. */
  private chat(socket: Socket, sender: SocketIdentity, { envelope, payloadJson }: ParsedEnvelope, target: SocketIdentity | null): Promise<Ack> {
    return this.deps.messageLog
      .append(
        {
          type: 'CHAT',
          localId: envelope.local_id ?? null,
          senderId: sender.id,
          senderName: sender.username,
          senderRole: sender.role,
          targetId: target?.id ?? null,
          payload: payloadJson,
          streamId: envelope.stream_id ?? null,
          replyTo: envelope.reply_to ?? null,
        },
        ({ message: stored, duplicate }) => {
          if (duplicate) return; // already delivered the first time
          this.deps.delivery.conversation(withPayload(stored, envelope.payload), sender, target, socket.id);
          for (const l of this.listeners) l.onChat?.(stored, sender, target);
        },
      )
      .then(
        ({ message }): Ack => ({ ok: true, id: message.id, local_id: message.localId, timestamp: isoTime(message.createdAt) }),
        (err) => {
          throw new AppError('UNAVAILABLE', 'The message could not be stored; nothing was sent', { cause: err });
        },
      );
  }

  private async stream(sender: SocketIdentity, envelope: IncomingEnvelope): Promise<Ack> {
    const target = await this.target(sender, envelope);
    const out: Envelope = {
      type: envelope.type,
      local_id: envelope.local_id ?? null,
      sender_id: sender.id,
      sender_name: sender.username,
      sender_role: sender.role,
      target_id: target?.id ?? null,
      payload: envelope.payload ?? null,
      timestamp: this.deps.clock.now().toISOString(),
      stream_id: envelope.stream_id,
      reply_to: envelope.reply_to ?? null,
    };
    this.deps.delivery.conversation(out, sender, target);
    return { ok: true };
  }

  private async systemLog(sender: SocketIdentity, payload: { level: LogLevel; content: string }): Promise<Ack> {
    const entry = await RequestContext.create(this.deps.orm.em, () =>
      this.deps.systemLog.store(sender, { level: payload.level, content: payload.content }),
    );
    this.deps.hub.systemLogStored(entry, sender);
    return { ok: true };
  }

  private async agentStatus(sender: SocketIdentity, payload: { status: string; report?: string | null }): Promise<Ack> {
    await RequestContext.create(this.deps.orm.em, () =>
      this.deps.orm.em.nativeUpdate(User, { id: sender.id }, { status: payload.status, lastReport: payload.report ?? null }),
    );
    await this.deps.hub.announcePresence(sender.id);
    return { ok: true };
  }

  private async authResponse(sender: SocketIdentity, payload: { action_id: string; approved: boolean; reason?: string }): Promise<Ack> {
    if (sender.role !== 'ADMIN') throw forbidden('Only an admin may decide an authorization request');
    for (const l of this.listeners) if (l.onAuthResponse) return l.onAuthResponse(sender, payload.action_id, payload.approved, payload.reason);
    throw notFound('No such authorization request');
  }
}

/** An envelope without `target_id`: an admin's broadcast, refused for anyone else. */
function broadcastBy(sender: SocketIdentity): null {
  if (sender.role !== 'ADMIN') throw forbidden('Only an admin may broadcast; set target_id');
  return null;
}
