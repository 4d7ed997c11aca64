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
    messagesRefused: new Counter({
      name: 'echocenter_messages_refused_total',
      help: 'Socket messages refused in the ack, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
