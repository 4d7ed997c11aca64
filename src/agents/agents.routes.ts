import Router from '@koa/router';
import { z } from 'zod';
import type { AppState, Guards } from '../http/context';
import { notFound } from '../shared/errors';
import { parseId, parseOrThrow, parseQuery } from '../shared/paging';
import { ascendingPageSchema, usernameSchema } from '../users/users.schemas';
import type { UsersService } from '../users/users.service';
import type { AgentsService } from './agents.service';
import { stringField } from '../shared/fields';

/** The request bodies, exported for the OpenAPI document (src/openapi). */
export const createAgentSchema = z.object({
  username: usernameSchema,
  description: stringField('description').max(1000, 'description must be at most 1000 characters').nullish(),
});
export const testConnectionSchema = z.object({ api_token: stringField('api_token').min(1).max(512) });

/** `/api/users/agents...` and `/api/users/butler`. */
export function agentsRoutes(agents: AgentsService, users: UsersService, guards: Guards): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/users' });

  router.get('/agents', guards.human, async (ctx) => {
    const page = parseQuery(ascendingPageSchema, ctx.query);
    ctx.body = await users.views(await users.list(page, ['AGENT', 'BUTLER']));
  });

  router.get('/agents/status', guards.human, async (ctx) => {
    const page = parseQuery(ascendingPageSchema, ctx.query);
    ctx.body = await users.views(await users.list(page, ['AGENT']));
  });

  router.get('/butler', guards.human, async (ctx) => {
    ctx.body = await users.view(await users.getButler());
  });

  router.post('/agents', guards.admin, async (ctx) => {
    const input = parseOrThrow(createAgentSchema, ctx.request.body);
    ctx.status = 201;
    ctx.body = await agents.create(input);
  });

  router.post('/agents/test-connection', guards.admin, async (ctx) => {
    const { api_token } = parseOrThrow(testConnectionSchema, ctx.request.body);
    const agent = await agents.authenticate(api_token);
    ctx.body = agent ? { valid: true, agent_id: agent.id, username: agent.username } : { valid: false };
  });

  router.patch('/agents/:id/token', guards.admin, async (ctx) => {
    const id = parseId(ctx.params.id);
    if (!id) throw notFound('No such agent');
    ctx.body = await agents.rotate(id);
  });

  router.delete('/agents/:id', guards.admin, async (ctx) => {
    const id = parseId(ctx.params.id);
    if (!id) throw notFound('No such agent');
    await agents.remove(id);
    ctx.status = 204;
  });

  return router;
}
