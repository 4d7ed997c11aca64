import Router from '@koa/router';
import { z } from 'zod';
import { principal, type AppState, type Guards } from '../http/context';
import { parseOrThrow, parseQuery } from '../shared/paging';
import { authListQuerySchema, rejectionReasonSchema } from './authorization.service';
import type { Butler } from './butler';
import { stringField } from '../shared/fields';

/** The decision's request body, exported for the OpenAPI document (src/openapi). */
export const decisionRequestSchema = z.object({
  action_id: stringField('action_id').min(1).max(64),
  approved: z.boolean({ error: 'approved must be true or false' }),
  reason: rejectionReasonSchema,
});

/** `GET /api/chat/auth/requests` and `POST /api/chat/auth/response` (PROTOCOL §2, §6). */
export function authorizationRoutes(butler: Butler, guards: Guards): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/chat/auth' });

  router.get('/requests', guards.human, async (ctx) => {
    const me = principal(ctx);
    const query = parseQuery(authListQuerySchema, ctx.query);
    ctx.body = await butler.store.list(query, me.role === 'ADMIN' ? undefined : me.id);
  });

  router.post('/response', guards.admin, async (ctx) => {
    const { action_id, approved, reason } = parseOrThrow(decisionRequestSchema, ctx.request.body);
    ctx.body = await butler.flow.decide(principal(ctx).id, action_id, approved, reason);
  });

  return router;
}
