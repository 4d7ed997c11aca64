import type { ParameterizedContext } from 'koa';
import type Router from '@koa/router';
import type { User } from '../users/user.entity';

export interface AppState {
  requestId: string;
  /** The authenticated principal, set by the auth middleware. */
  principal?: User;
}

export type AppContext = ParameterizedContext<AppState>;
export type AppRouter = Router<AppState>;

/** The principal of an authenticated route (the auth middleware ran before it). */
export function principal(ctx: AppContext): User {
  const p = ctx.state.principal;
  if (!p) throw new Error('route used without authentication middleware');
  return p;
}
