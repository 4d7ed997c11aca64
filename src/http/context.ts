import type { Middleware, ParameterizedContext } from 'koa';
import type Router from '@koa/router';
import type { Role } from '../shared/protocol';

/** Who an authenticated request is from (a user row; the auth middleware sets it). */
export interface Principal {
  id: number;
  username: string;
  role: Role;
}

export interface AppState {
  requestId: string;
  /** The authenticated principal, set by the auth middleware. */
  principal?: Principal;
}

/** The route guards every module's routes use; `auth/auth.middleware.ts` makes them. */
export interface Guards {
  /** Any logged-in human (ADMIN or MEMBER) by JWT. */
  human: Middleware<AppState>;
  /** An ADMIN by JWT. */
  admin: Middleware<AppState>;
  /** An ADMIN by JWT, or an agent by its API token. */
  adminOrAgent: Middleware<AppState>;
}

export type AppContext = ParameterizedContext<AppState>;
export type AppRouter = Router<AppState>;

/** The principal of an authenticated route (the auth middleware ran before it). */
export function principal(ctx: AppContext): Principal {
  const p = ctx.state.principal;
  if (!p) throw new Error('route used without authentication middleware');
  return p;
}
