import Router from '@koa/router';
import { z } from 'zod';
import type { AppState } from '../http/context';
import { parseOrThrow } from '../shared/paging';
import { passwordSchema, usernameSchema } from '../users/users.schemas';
import type { AuthService } from './auth.service';
import { stringField } from '../shared/fields';

/** The request bodies, exported for the OpenAPI document (src/openapi). */
export const loginSchema = z.object({
  username: stringField('username').min(1, 'username is required').max(64, 'username is too long'),
  password: stringField('password').min(1, 'password is required').max(1024, 'password is too long'),
});
export const registerSchema = z.object({ username: usernameSchema, password: passwordSchema });

/** `POST /api/auth/login` and `POST /api/auth/register`. */
export function authRoutes(auth: AuthService): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/auth' });

  router.post('/login', async (ctx) => {
    const { username, password } = parseOrThrow(loginSchema, ctx.request.body);
    ctx.body = await auth.login(username, password, ctx.ip);
  });

  router.post('/register', async (ctx) => {
    const { username, password } = parseOrThrow(registerSchema, ctx.request.body);
    ctx.status = 201;
    ctx.body = await auth.register(username, password);
  });

  return router;
}
