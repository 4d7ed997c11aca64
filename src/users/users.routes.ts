import Router from '@koa/router';
import { principal, type AppState, type Guards } from '../http/context';
import { forbidden, notFound } from '../shared/errors';
import { parseId, parseOrThrow, parseQuery } from '../shared/paging';
import { ascendingPageSchema, createUserSchema } from './users.schemas';
import type { UsersService } from './users.service';

/** `/api/users` for humans: list, read, create, delete. Agent routes are mounted before these. */
export function usersRoutes(users: UsersService, guards: Guards): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/users' });

  router.get('/', guards.admin, async (ctx) => {
    const page = parseQuery(ascendingPageSchema, ctx.query);
    ctx.body = await users.views(await users.list(page));
  });

  router.post('/', guards.admin, async (ctx) => {
    const input = parseOrThrow(createUserSchema, ctx.request.body);
    ctx.status = 201;
    ctx.body = { user: await users.view(await users.createHuman(input)) };
  });

  router.get('/:id', guards.human, async (ctx) => {
    const me = principal(ctx);
    const id = parseId(ctx.params.id);
    // A member learns nothing about other ids, not even whether they exist.
    if (me.role !== 'ADMIN' && id !== me.id) throw forbidden('You may only read your own user');
    const user = id ? await users.findById(id) : null;
    if (!user) throw notFound('No such user');
    ctx.body = await users.view(user);
  });

  router.delete('/:id', guards.admin, async (ctx) => {
    const id = parseId(ctx.params.id);
    if (!id) throw notFound('No such user');
    await users.remove(id);
    ctx.status = 204;
  });

  return router;
}
