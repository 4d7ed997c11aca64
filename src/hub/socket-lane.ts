import { RequestContext } from '@mikro-orm/core';
import type { Socket } from 'socket.io';
import type { Config } from '../config/config';
import type { Orm } from '../db/orm';
import { forbidden, notFound, toErrorBody } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { Ack } from '../shared/protocol';
import type { ConversationHandler, MessageHandler, Sender } from '../shared/socket-handler';
import type { Directory } from './directory';
import { ParsedEnvelope, parseEnvelope, type IncomingEnvelope } from './envelope.schema';
import type { SocketData } from './handshake';
import { TokenBucket } from './rate-limiter';

/** The domain handler of each type a client may send (PROTOCOL §3.2). */
export interface SocketHandlers {
  /** Must have queued the CHAT in the message log when it returns: its place in the order is taken then. */
  CHAT: ConversationHandler;
  CHAT_STREAM: ConversationHandler;
  CHAT_STREAM_END: ConversationHandler;
  SYSTEM_LOG: MessageHandler;
  AGENT_STATUS: MessageHandler;
  AUTH_RESPONSE: MessageHandler;
}

export interface SocketLaneDeps {
  config: Config;
  orm: Orm;
  logger: Logger;
  metrics: Metrics;
  directory: Directory;
  handlers: SocketHandlers;
  /** Registers work that shutdown must wait for. */
  track(work: Promise<unknown>): void;
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
 * The `message` event of `/chat` and `/agents`: the per-socket rate limit and order, validation of
 * the envelope, the target of a conversation type, then the type's domain handler. Every refusal is
 * an ack `{ok:false, error, code}` through the one error catalogue; the socket stays connected.
 */
export class SocketLane {
  private readonly log: Logger;
  private readonly lanes = new WeakMap<Socket, Lane>();

  constructor(private readonly deps: SocketLaneDeps) {
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
  private async handle(socket: Socket, sender: Sender, message: unknown, lane: Lane): Promise<{ done: Promise<Ack> }> {
    const parsed = message instanceof ParsedEnvelope ? message : parseEnvelope(message, sender.role, this.deps.config.maxPayloadBytes);
    const { envelope } = parsed;
    if (envelope.type === 'CHAT') {
      const done = this.chat(socket, sender, parsed, await this.target(sender, envelope));
      lane.lastChat = done;
      return { done };
    }
    await lane.lastChat.then(ignore, ignore);
    return { done: Promise.resolve(await this.other(socket, sender, parsed)) };
  }

  /**
   * A CHAT gets no entity-manager fork: the message log writes through its own connection, and the
   * directory forks for the look-ups it makes. A fork per CHAT would be garbage on the hottest path.
   */
  private chat(socket: Socket, sender: Sender, { envelope, payloadJson }: ParsedEnvelope, target: Sender | null): Promise<Ack> {
    return this.deps.handlers.CHAT({ sender, envelope, payloadJson, target, socketId: socket.id });
  }

  /**
   * Any type but CHAT. A stream chunk needs its target and no entity manager; every other type
   * runs in one entity-manager fork of its own (Socket.IO events bypass Koa's per-request context).
   */
  private async other(socket: Socket, sender: Sender, { envelope, payloadJson }: ParsedEnvelope): Promise<Ack> {
    const message = { sender, envelope, payloadJson, socketId: socket.id };
    switch (envelope.type) {
      case 'CHAT_STREAM':
      case 'CHAT_STREAM_END':
        return this.deps.handlers[envelope.type]({ ...message, target: await this.target(sender, envelope) });
      case 'SYSTEM_LOG':
      case 'AGENT_STATUS':
      case 'AUTH_RESPONSE': {
        const handler = this.deps.handlers[envelope.type];
        return RequestContext.create(this.deps.orm.em, () => handler(message));
      }
      default:
        throw forbidden(`${envelope.type} cannot be sent by clients`);
    }
  }

  /** Resolves `target_id`: a user, or `null` for an admin's broadcast. */
  private async target(sender: Sender, envelope: IncomingEnvelope): Promise<Sender | null> {
    if (!envelope.target_id) return broadcastBy(sender);
    const target = await this.deps.directory.find(envelope.target_id);
    if (!target) throw notFound(`No user with id ${envelope.target_id}`);
    return target;
  }

  /** The target when it can be known without waiting: a broadcast, or a user in the directory's cache. */
  private knownTarget(sender: Sender, envelope: IncomingEnvelope): Sender | null | undefined {
    if (!envelope.target_id) return sender.role === 'ADMIN' ? null : undefined; // a refusal takes the slow path
    return this.deps.directory.cached(envelope.target_id) ?? undefined;
  }
}

/** An envelope without `target_id`: an admin's broadcast, refused for anyone else. */
function broadcastBy(sender: Sender): null {
  if (sender.role !== 'ADMIN') throw forbidden('Only an admin may broadcast; set target_id');
  return null;
}
