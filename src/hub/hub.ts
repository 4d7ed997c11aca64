import type { Server as HttpServer } from 'node:http';
import { RequestContext } from '@mikro-orm/core';
import { Server, type Socket } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { agentStatusHandlers } from '../agents/agent-status.handlers';
import type { AgentsService } from '../agents/agents.service';
import type { JwtService } from '../auth/jwt';
import { authResponseHandlers } from '../butler/auth-response.handlers';
import type { AuthorizationFlow } from '../butler/authorization.flow';
import type { Config } from '../config/config';
import type { Orm } from '../db/orm';
import { chatHandlers, type ChatListener } from '../messages/chat.handlers';
import { toEnvelope } from '../messages/envelope';
import type { ChatMessage } from '../messages/chat-message.entity';
import type { MessageLogService } from '../messages/log/message-log.service';
import { systemLogHandlers } from '../messages/system-log.handlers';
import type { LogAuthor, SystemLogEntry, SystemLogService } from '../messages/system-log.service';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { gaugeHandshakesWaiting, type Metrics } from '../shared/metrics';
import type { HubPort } from '../shared/ports';
import type { Envelope } from '../shared/protocol';
import type { UsersService } from '../users/users.service';
import type { AgentView } from '../users/user.view';
import { ADMINS_ROOM, Delivery, userRoom } from './delivery';
import { Departures } from './departures';
import { Directory } from './directory';
import { EngineIoInternals, engineTuningForcedOff } from './engine-io.internals';
import { HandshakeTurns } from './handshake-turns';
import { dropAuthPayload, dropHandshakeRequests } from './handshake-leftovers';
import { LocalAdapter } from './local-adapter';
import { handshake, type NamespaceKind, type SocketData, type SocketIdentity } from './handshake';
import type { PresenceTracker } from './presence';
import { Backlog, type DirectiveDesk } from './backlog';
import { ConnectionLog } from './connection-log';
import { OrderedDelivery, type OrderedSink } from './ordered-delivery';
import { SocketLane } from './socket-lane';
import { WriteBatch } from './write-batch';

export interface HubDeps {
  config: Config;
  orm: Orm;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  jwt: JwtService;
  users: UsersService;
  agents: AgentsService;
  systemLog: SystemLogService;
  messageLog: MessageLogService;
  presence: PresenceTracker;
  /**
   * Consumes the CHATs addressed to it, decides AUTH_RESPONSEs, and hands every agent handshake its
   * open directives.
   */
  butler: ChatListener & DirectiveDesk & { flow: Pick<AuthorizationFlow, 'decide'> };
  /** The adapter (in memory, or Redis for several replicas): it carries what has no id. */
  adapter?: (nsp: unknown) => Adapter;
  /**
   * Where stored messages go on their way to every replica's sockets (Redis' ordered channel, which
   * brings them back to `ordered`); without it, straight to this replica's sockets.
   */
  orderedSink?: OrderedSink;
}

/** Server-side event (replica to replica): a user was deleted, forget their directory entry. */
const FORGET_USER = 'directory:forget';

/** After a Redis outage, presence is re-registered with retries for up to about 15 seconds. */
const RECONCILE_ATTEMPTS = 30;
const RECONCILE_RETRY_MS = 500;

export const SYSTEM_SENDER = { sender_id: 0, sender_name: 'system', sender_role: 'SYSTEM' } as const;

/**
 * The realtime hub: one Socket.IO server with `/chat`, `/agents` and `/monitor` (PROTOCOL §3-§5).
 * Implements the HubPort through which services announce what happened.
 */
export class Hub implements HubPort {
  readonly io: Server;
  readonly delivery: Delivery;
  /** The last hop of stored messages: this replica's sockets, through their replay gates. */
  readonly ordered: OrderedDelivery;
  private readonly backlog: Backlog;
  private readonly connections: ConnectionLog;
  readonly directory: Directory;
  private readonly lane: SocketLane;
  private readonly departures: Departures;
  private readonly log: Logger;
  /** Background work (presence, replay) that shutdown waits for before the database closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private draining = false;

  constructor(
    httpServer: HttpServer,
    private readonly deps: HubDeps,
  ) {
    this.log = deps.logger.child({ module: 'hub' });
    this.connections = new ConnectionLog(this.log);
    const { config } = deps;
    const internals = new EngineIoInternals(this.log);
    const writes = new WriteBatch(!engineTuningForcedOff(), internals);
    this.io = new Server(httpServer, {
      // Well above MAX_PAYLOAD_BYTES, so that an oversized payload is refused in the ack, not by a disconnect.
      maxHttpBufferSize: Math.max(1 << 20, config.maxPayloadBytes * 4 + 65_536),
      cors: { origin: config.corsOrigins === '*' ? true : [...config.corsOrigins], credentials: true },
      adapter: (deps.adapter ?? LocalAdapter) as never,
      serveClient: true,
      // While draining, new connections are refused: the client's reconnection goes to another replica.
      allowRequest: (_req, callback) => callback(this.draining ? 'shutting down' : null, !this.draining),
      // A ws server that sees each connection's TCP socket, to send a turn's frames in one write.
      ...(writes.wsEngine ? { wsEngine: writes.wsEngine } : {}),
    });
    writes.attach(this.io.engine); // first: it still reads each connection's first request
    dropHandshakeRequests(httpServer, this.io.engine, internals);
    this.ordered = new OrderedDelivery(this.io);
    this.delivery = new Delivery(this.io, deps.orderedSink ?? this.ordered);
    this.backlog = new Backlog({ messageLog: deps.messageLog, ordered: this.ordered, directives: deps.butler, logger: this.log, metrics: deps.metrics });
    this.directory = new Directory(deps.orm, deps.users);
    this.departures = new Departures({ ...deps, announce: (view) => this.delivery.toHumansAndMonitors(this.systemEnvelope('PRESENCE', view)) });
    this.lane = new SocketLane({
      ...deps,
      directory: this.directory,
      track: (w) => this.track(w),
      handlers: {
        ...chatHandlers({ messageLog: deps.messageLog, delivery: this.delivery, clock: deps.clock, listeners: [deps.butler] }),
        ...systemLogHandlers({ systemLog: deps.systemLog }),
        ...agentStatusHandlers({ agents: deps.agents, announcePresence: (id) => this.announcePresence(id) }),
        ...authResponseHandlers({ flow: deps.butler.flow }),
      },
    });

    // A user deleted on another replica: drop the cached lookup here too, so a CHAT to them is NOT_FOUND.
    this.io.on(FORGET_USER as never, (id: number) => this.directory.forget(id));

    // One queue for the three namespaces: a burst of agents and of browsers share the turns.
    const turns = new HandshakeTurns(config.handshakeConcurrency);
    gaugeHandshakesWaiting(deps.metrics, () => turns.waiting);
    const hs = { orm: deps.orm, jwt: deps.jwt, users: deps.users, agents: deps.agents, logger: this.log, turns };
    for (const kind of ['chat', 'agents', 'monitor'] as NamespaceKind[]) {
      const nsp = this.io.of(`/${kind}`);
      nsp.use(handshake(kind, hs));
      nsp.on('connection', (socket) => this.onConnection(kind, socket));
    }
  }

  private onConnection(kind: NamespaceKind, socket: Socket): void {
    const data = socket.data as SocketData;
    const user = data.user;
    this.deps.metrics.socketsConnected.inc({ namespace: kind });
    this.connections.connected(kind);
    const gate = this.backlog.wanted(kind, data.replayAfter) ? this.ordered.openGate(socket) : undefined;
    socket.join(userRoom(user.id));
    if (kind === 'chat' && user.role === 'ADMIN') socket.join(ADMINS_ROOM);
    if (kind !== 'monitor') this.lane.attach(socket);
    else socket.on('message', (_raw, ack) => typeof ack === 'function' && ack({ ok: false, error: '/monitor is read-only', code: 'FORBIDDEN' }));

    socket.on('disconnect', () => {
      this.deps.metrics.socketsConnected.dec({ namespace: kind });
      this.connections.disconnected(kind);
      this.ordered.closeGate(socket);
      if (kind === 'agents') this.track(this.agentLeft(user, socket.id));
    });
    if (kind === 'agents') this.track(this.agentArrived(user, socket.id, data.arrival!));
    data.arrival = undefined;
    dropAuthPayload(socket);
    if (gate) this.track(this.backlog.send(socket, user, data.replayAfter, gate));
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Announces an agent's first socket with the user object its handshake read (no second query). */
  private async agentArrived(agent: SocketIdentity, socketId: string, view: AgentView): Promise<void> {
    try {
      if (await this.deps.presence.add(agent.id, socketId)) this.delivery.toHumansAndMonitors(this.systemEnvelope('PRESENCE', view));
    } catch (err) {
      this.log.error({ err, agentId: agent.id }, 'presence update failed');
    }
  }

  private async agentLeft(agent: SocketIdentity, socketId: string): Promise<void> {
    try {
      if (await this.deps.presence.remove(agent.id, socketId)) await this.agentGone(agent.id);
    } catch (err) {
      this.log.error({ err, agentId: agent.id }, 'presence update failed');
    }
  }

  /** An agent's last socket is gone (here, or on a replica that died): store last_seen_at, announce. */
  agentGone(agentId: number): Promise<void> {
    return this.departures.add(agentId);
  }

  /**
   * Delivers messages that a replica committed and did not live to publish (see
   * MessageLogService.setRecovery), routed from their rows as their own replica would have. The
   * sending socket gets its message too: it never had an ack, since that replica died.
   */
  async redeliver(messages: ChatMessage[]): Promise<() => void> {
    const targets = await Promise.all(
      messages.map((m) => (m.type === 'CHAT' && m.targetId !== null ? this.directory.find(m.targetId) : null)),
    );
    return () => {
      messages.forEach((m, i) => {
        const envelope = toEnvelope(m);
        if (m.type === 'CHAT') {
          if (m.targetId !== null && !targets[i]) return; // the target has been deleted since
          const sender = { id: m.senderId, username: m.senderName, role: m.senderRole as SocketIdentity['role'] };
          this.delivery.conversation(envelope, sender, targets[i]);
        } else if (m.audience === 'ADMINS' && m.targetId !== null) {
          this.delivery.toRequesterAndAdmins(envelope, m.targetId);
        }
      });
      const range = { from: messages[0].id, to: messages[messages.length - 1].id, count: messages.length };
      this.log.info(range, 'delivered messages that a replica stored and did not publish');
    };
  }

  /**
   * After a Redis outage this replica may have missed deliveries: each of its sockets gets every
   * visible message above `floor` (minus what it already had), through a gate, like a replay.
   */
  resync(floor: number): void {
    this.directory.clear(); // a deletion announced during the outage may not have reached us
    for (const nsp of [this.delivery.chat, this.delivery.agents]) {
      for (const socket of nsp.sockets.values()) this.track(this.backlog.resync(socket, (socket.data as SocketData).user, floor));
    }
    if (this.deps.presence.reconcile) this.track(this.reconcilePresence());
  }

  /**
   * Re-registers this replica's agent sockets after an outage. The command connection that presence
   * uses may come back a little after the subscriber that triggered the resync, so a failure is
   * retried (with the sockets held at that moment) instead of leaving those agents offline for good.
   */
  private async reconcilePresence(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const local = [...this.delivery.agents.sockets.values()].map((s) => ({ agentId: (s.data as SocketData).user.id, socketId: s.id }));
      try {
        const ids = await this.deps.presence.reconcile!(local);
        await Promise.all(ids.map((id) => this.announcePresence(id)));
        return;
      } catch (err) {
        if (attempt >= RECONCILE_ATTEMPTS || this.draining) return this.log.error({ err }, 'presence reconcile failed');
        await new Promise((resolve) => setTimeout(resolve, RECONCILE_RETRY_MS));
      }
    }
  }

  /** PRESENCE with the agent's current user object to `/chat` and `/monitor`. */
  async announcePresence(agentId: number): Promise<void> {
    const view = await RequestContext.create(this.deps.orm.em, async () => {
      const agent = await this.deps.users.findById(agentId);
      return agent ? this.deps.users.view(agent) : null;
    });
    if (view) this.delivery.toHumansAndMonitors(this.systemEnvelope('PRESENCE', view));
  }

  systemEnvelope(type: 'PRESENCE' | 'BUTLER_AGENT_MESSAGE', payload: unknown): Envelope {
    return { type, ...SYSTEM_SENDER, target_id: null, payload, timestamp: this.deps.clock.now().toISOString() };
  }

  // HubPort

  systemLogStored(entry: SystemLogEntry, sender: LogAuthor): void {
    this.delivery.toHumansAndMonitors({
      type: 'SYSTEM_LOG',
      sender_id: sender.id,
      sender_name: sender.username,
      sender_role: sender.role,
      target_id: null,
      payload: entry,
      timestamp: entry.timestamp,
    });
  }

  credentialsRevoked(userId: number): void {
    this.directory.forget(userId);
    if (this.deps.adapter) this.io.serverSideEmit(FORGET_USER, userId);
    this.delivery.disconnectUser(userId);
  }

  /**
   * Refuses new sockets, drops the ones this replica holds (a transport close: clients reconnect by
   * themselves, elsewhere) and waits for in-flight work. The HTTP listener stays open, so that
   * readiness can answer 503 while this runs (PROTOCOL §2).
   */
  async drain(): Promise<void> {
    this.draining = true;
    this.io.engine.close();
    await Promise.allSettled([...this.inFlight]);
    await this.deps.messageLog.idle();
  }

  /** Drains, then closes Socket.IO: the adapters, and the HTTP listener. */
  async close(): Promise<void> {
    await this.drain();
    await this.io.close();
    this.connections.close();
  }
}
