import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app, so that several apps in one test process do not share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'echocenter_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    socketsConnected: new Gauge({
      name: 'echocenter_sockets_connected',
      help: 'Connected sockets on this replica by namespace',
      labelNames: ['namespace'] as const,
      registers: [registry],
    }),
    messagesStored: new Counter({
      name: 'echocenter_messages_stored_total',
      help: 'Messages committed to the message log by type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    butlerTurns: new Counter({
      name: 'echocenter_butler_turns_total',
      help: 'Butler turns by outcome (ok, failed: the model failed or the turn passed its deadline)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    butlerTurnDuration: new Histogram({
      name: 'echocenter_butler_turn_duration_seconds',
      help: 'Duration of a Butler turn, from the person\'s message to the stored reply',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    authorizations: new Counter({
      name: 'echocenter_authorizations_total',
      help: 'Authorization status changes announced by this replica, by new status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    directiveDeliveryWait: new Histogram({
      name: 'echocenter_directive_delivery_wait_seconds',
      help: 'From an approval to its directive reaching the agent (0 when the agent was online)',
      buckets: [0.1, 1, 5, 30, 60, 300, 600, 1800],
      registers: [registry],
    }),
    replayMessages: new Histogram({
      name: 'echocenter_replay_messages',
      help: 'Messages sent by one handshake replay or resync (auth.last_id)',
      buckets: [0, 1, 10, 100, 500, 1000, 5000, 20000],
      registers: [registry],
    }),
    clusterLinkUp: new Gauge({
      name: 'echocenter_cluster_link_up',
      help: '1 while this replica\'s link to the others (Redis) carries traffic, 0 during an outage; absent for one replica',
      registers: [registry],
    }),
    messagesRefused: new Counter({
      name: 'echocenter_messages_refused_total',
      help: 'Socket messages refused in the ack, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * `echocenter_authorizations_pending`: PENDING requests in the database, read at each scrape. Every
 * replica reports the cluster's count (the database is shared): aggregate with `max`, not `sum`.
 */
export function gaugePendingAuthorizations(metrics: Metrics, count: () => Promise<number>): void {
  new Gauge({
    name: 'echocenter_authorizations_pending',
    help: 'Authorization requests waiting for a decision (cluster-wide: aggregate with max)',
    registers: [metrics.registry],
    async collect() {
      this.set(await count());
    },
  });
}

/** `echocenter_handshakes_waiting`: handshakes waiting for their turn on this replica (HANDSHAKE_CONCURRENCY). */
export function gaugeHandshakesWaiting(metrics: Metrics, count: () => number): void {
  new Gauge({
    name: 'echocenter_handshakes_waiting',
    help: 'Socket handshakes waiting for their turn to be identified on this replica (HANDSHAKE_CONCURRENCY); a client that left counts until its turn skips it',
    registers: [metrics.registry],
    collect() {
      this.set(count());
    },
  });
}
