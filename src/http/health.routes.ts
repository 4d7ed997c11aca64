import Router from '@koa/router';
import { unavailable } from '../shared/errors';
import type { Metrics } from '../shared/metrics';
import type { AppState } from './context';

export interface Readiness {
  /** Throws (or rejects) when a dependency does not answer or the replica is draining. */
  check(): Promise<void>;
}

/** Liveness, readiness, metrics and ping: no authentication, no database context needed. */
export function healthRoutes(readiness: Readiness, metrics: Metrics, production: boolean): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/api/ping', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    try {
      await readiness.check();
    } catch (err) {
      // The cause can name hosts and ports: only outside production does it go to the client.
      throw unavailable(!production && err instanceof Error ? `Not ready: ${err.message}` : 'Not ready');
    }
    ctx.body = { status: 'ready' };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  return router;
}
