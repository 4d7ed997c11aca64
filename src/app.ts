import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { RequestContext } from '@mikro-orm/core';
import { bodyParser } from '@koa/bodyparser';
import cors from '@koa/cors';
import { AgentsService } from './agents/agents.service';
import { agentsRoutes } from './agents/agents.routes';
import { createGuards } from './auth/auth.middleware';
import { authorizationRoutes } from './butler/authorization.routes';
import { Butler, loadBrain } from './butler/butler';
import type { Brain } from './butler/brain';
import { authRoutes } from './auth/auth.routes';
import { AuthService } from './auth/auth.service';
import { CredentialsRepository } from './auth/credentials.repository';
import { JwtService } from './auth/jwt';
import { LoginLimiter } from './auth/login-limiter';
import { PasswordHasher } from './auth/passwords';
import type { Config } from './config/config';
import { withKeptDevSecret } from './config/dev-secret';
import { probeDirectDriver } from './db/direct-driver';
import { initOrm, type Orm } from './db/orm';
import { SqliteCheckpointer } from './db/sqlite-checkpointer';
import { ENTITIES } from './entities';
import { HubButlerOutbox } from './hub/butler-outbox';
import { Hub } from './hub/hub';
import type { OrderedPacket } from './hub/ordered-delivery';
import { MemoryPresence, type PresenceTracker } from './hub/presence';
import type { ClusterLink } from './cluster/cluster-link';
import type { AppState } from './http/context';
import { consoleRoutes } from './http/console.routes';
import { healthRoutes } from './http/health.routes';
import { JSON_TYPES, jsonBodyError, ormContext, requireJsonBody, requestLifecycle } from './http/middleware';
import { ChatHistoryService } from './messages/chat-history.service';
import { MessageLogService, type LogFaults } from './messages/log/message-log.service';
import { messagesRoutes } from './messages/messages.routes';
import { SystemLogService } from './messages/system-log.service';
import { systemClock, type Clock } from './shared/clock';
import { createLogger, type Logger } from './shared/logger';
import { createMetrics, gaugePendingAuthorizations } from './shared/metrics';
import { bootstrapUsers } from './users/bootstrap';
import { usersRoutes } from './users/users.routes';
import { buildOpenApiDocument } from './openapi/openapi.document';
import { openApiRoutes } from './openapi/openapi.routes';
import { UsersService } from './users/users.service';

export interface AppDeps {
  logger?: Logger;
  clock?: Clock;
  /** Replaces the Butler's configured brain (tests). */
  brain?: Brain;
  /** Joins other replicas through this link instead of REDIS_URL (tests: an in-process MemoryCluster). */
  cluster?: ClusterLink;
  /** Fault injection into the message log (tests): see LogFaults. */
  logFaults?: LogFaults;
  /** `false`: the message log and the SQLite checkpointer skip the driver internals (tests, benches of the public path). */
  directDriver?: boolean;
}

export interface App {
  readonly config: Config;
  readonly orm: Orm;
  readonly server: Server;
  readonly logger: Logger;
  readonly hub: Hub;
  readonly butler: Butler;
  /** Every method and path the Koa routers serve (as @koa/router spells them, `:id`), HEAD included. */
  readonly routes: readonly { method: string; path: string }[];
  readonly services: {
    users: UsersService;
    agents: AgentsService;
    auth: AuthService;
    systemLog: SystemLogService;
    messageLog: MessageLogService;
    jwt: JwtService;
  };
  /** Starts listening; port 0 picks a free port. Resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** The base URL once listening. */
  url(): string;
  /** Drains and closes everything in reverse order of wiring, under SHUTDOWN_TIMEOUT. */
  close(): Promise<void>;
}

/**
 * The composition root: wires the ORM, the services, Koa and the HTTP server, in dependency order.
 * Nothing listens until `listen()`.
 */
export async function createApp(givenConfig: Config, deps: AppDeps = {}): Promise<App> {
  // Development without JWT_SECRET: the secret kept in the data directory, so restarts keep sessions.
  const config = withKeptDevSecret(givenConfig);
  const logger = deps.logger ?? createLogger(config.logLevel);
  const clock = deps.clock ?? systemClock;
  const metrics = createMetrics();
  for (const warning of config.warnings) logger.warn(warning);

  const orm = await initOrm(config, logger.child({ module: 'db' }), ENTITIES);
  const driver = await probeDirectDriver(orm, logger.child({ module: 'db' }), deps.directDriver ?? true);
  const checkpointer = config.db.driver === 'sqlite' ? await SqliteCheckpointer.start(orm, logger.child({ module: 'db' }), driver) : undefined;

  // The hub is wired after the services it serves; services reach it through a late-bound port.
  let hubPort: Hub | undefined;
  const hub = () => hubPort!;
  // With REDIS_URL (or a link given by a test): the replicas behave as one; without, one in memory.
  // ioredis and the adapter are imported only then, so a single replica does not keep them in memory.
  let link: ClusterLink | undefined = deps.cluster;
  if (!link && config.redis) {
    const { RedisCluster } = await import('./cluster/redis-cluster');
    link = new RedisCluster(config.redis.url, config.redis.keyPrefix, logger.child({ module: 'redis' }));
  }
  const presence: PresenceTracker = link ? link.presence((id) => hubPort!.agentGone(id)) : new MemoryPresence();
  let draining = false;

  const passwords = new PasswordHasher(config.bcryptRounds);
  const jwt = new JwtService(config.jwt.secret, config.jwt.expiresInSeconds);
  const credentials = new CredentialsRepository(orm, passwords);
  const users = new UsersService({ orm, credentials, clock, hub, presence: () => presence, butlerMode: () => (config.butler.baseUrl ? 'llm' : 'rules') });
  const agents = new AgentsService(users, credentials, clock, hub);
  const auth = new AuthService(users, credentials, passwords, jwt, new LoginLimiter(clock), config.allowRegistration);
  const systemLog = new SystemLogService(orm, clock, hub);
  const history = new ChatHistoryService(orm);
  const messageLog = new MessageLogService(orm, clock, (type) => metrics.messagesStored.inc({ type }), { faults: deps.logFaults, driver });
  if (link) {
    const cluster = link;
    await cluster.connect(await messageLog.lastId());
    await presence.start?.();
    messageLog.setDeliveryBarrier(
      () => cluster.published(),
      (lastId) => cluster.readBack(lastId),
    );
    // Several replicas share the log only on PostgreSQL (SQLite is one process's file).
    if (config.db.driver !== 'postgres') messageLog.setPublisher(cluster.groupPublisher({ recoverThroughMark: false }));
    else {
      messageLog.setRecovery(cluster.groupPublisher({ recoverThroughMark: true }), (rows) => hub().redeliver(rows));
      cluster.on('writable', () => void messageLog.publishStranded().catch((err) => logger.warn({ err }, 'could not deliver unpublished messages yet')));
    }
  }
  await bootstrapUsers(orm, users, config, logger.child({ module: 'bootstrap' }));
  const butlerSelf = await RequestContext.create(orm.em, () => users.getButler());
  const outbox = new HubButlerOutbox({
    self: () => ({ id: butlerSelf.id, username: butlerSelf.username, role: 'BUTLER' }),
    messageLog,
    delivery: () => hub().delivery,
    presence,
    clock,
    systemEnvelope: (type, payload) => hub().systemEnvelope(type, payload),
  });
  const butler = new Butler({ config, orm, clock, logger, users, systemLog, history, outbox, metrics, brain: deps.brain ?? (await loadBrain(config)) });
  gaugePendingAuthorizations(metrics, () => RequestContext.create(orm.em, () => butler.store.countPending()));

  const guards = createGuards({ jwt, users, credentials });
  const readiness = {
    async check() {
      if (draining) throw new Error('shutting down');
      await orm.em.getConnection().execute('select 1');
      await link?.ping();
    },
  };
  const routers = [
    healthRoutes(readiness, metrics, config.production),
    openApiRoutes(buildOpenApiDocument()),
    authRoutes(auth),
    agentsRoutes(agents, users, guards),
    usersRoutes(users, guards),
    messagesRoutes({ systemLog, history, users, maxPayloadBytes: config.maxPayloadBytes }, guards),
    authorizationRoutes(butler, guards),
  ];
  const koa = new Koa<AppState>({ proxy: config.trustProxy });
  koa.silent = true;
  koa.use(requestLifecycle(logger.child({ module: 'http' }), metrics, config.production));
  koa.use(
    cors({
      origin: (ctx) => (config.corsOrigins === '*' || config.corsOrigins.includes(ctx.get('Origin')) ? ctx.get('Origin') || '*' : ''),
      exposeHeaders: ['X-Request-Id'],
      allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    }),
  );
  koa.use(requireJsonBody((ctx) => routers.some((router) => router.match(ctx.path, ctx.method).route)));
  koa.use(bodyParser({ enableTypes: ['json'], extendTypes: { json: JSON_TYPES }, jsonLimit: '1mb', encoding: 'utf-8', onError: jsonBodyError }));
  koa.use(ormContext(orm));
  for (const router of routers) koa.use(router.routes());
  const routes = routers.flatMap((router) => router.stack.flatMap((layer) => layer.methods.map((method) => ({ method, path: String(layer.path) }))));
  // Last: the web console answers GET paths no router took, outside /api and the server's own paths.
  koa.use(consoleRoutes());

  const server = createServer(koa.callback());
  server.keepAliveTimeout = 65_000;
  const realtime = new Hub(server, {
    config, orm, logger, metrics, clock, jwt, users, agents, systemLog, messageLog, presence, butler, adapter: link?.adapter(), orderedSink: link,
  });
  hubPort = realtime;
  link?.onOrdered((packet: OrderedPacket) => realtime.ordered.deliverLocal(packet));
  link?.on('recovered', (floor: number) => {
    metrics.clusterLinkUp.set(1);
    realtime.resync(floor);
  });
  link?.on('down', () => metrics.clusterLinkUp.set(0));
  if (link) metrics.clusterLinkUp.set(1);
  await butler.start();
  let baseUrl = '';
  let closing: Promise<void> | undefined;

  async function shutdown(): Promise<void> {
    // Readiness answers 503 from here on; the listener stays open until the sockets have drained.
    draining = true;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
    // Sockets first (clients reconnect to another replica and replay), with in-flight commits finished.
    await Promise.race([realtime.drain(), deadline]);
    const drained = new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await Promise.race([realtime.close(), deadline]);
    await Promise.race([butler.close(), deadline]);
    await Promise.race([drained, deadline]);
    server.closeAllConnections();
    await presence.close();
    await messageLog.close();
    await link?.close();
    await checkpointer?.close();
    await orm.close(true);
    logger.info('closed');
  }

  return {
    config,
    orm,
    server,
    logger,
    hub: realtime,
    butler,
    routes,
    services: { users, agents, auth, systemLog, messageLog, jwt },
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          baseUrl = `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`;
          logger.info({ url: baseUrl }, 'listening');
          resolve(baseUrl);
        });
      });
    },
    url: () => baseUrl,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
