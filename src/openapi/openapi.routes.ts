import Router from '@koa/router';
import type { AppState } from '../http/context';

/** `GET /api/openapi.json`: the document built once at start-up (it depends on no request). */
export function openApiRoutes(document: object): Router<AppState> {
  const router = new Router<AppState>();
  const body = JSON.stringify(document);
  router.get('/api/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = body;
  });
  return router;
}
