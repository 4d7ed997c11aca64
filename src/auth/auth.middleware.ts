import type { Middleware } from 'koa';
import compose from 'koa-compose';
import koaJwt from 'koa-jwt';
import type { AppState, Guards } from '../http/context';
import { forbidden, unauthorized } from '../shared/errors';
import { isHuman, type Role } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import { looksLikeAgentToken } from './agent-token';
import type { CredentialsRepository } from './credentials.repository';
import { subjectId, type JwtService } from './jwt';

export interface AuthDeps {
  jwt: JwtService;
  users: UsersService;
  credentials: Pick<CredentialsRepository, 'agentByToken'>;
}

/**
 * Route guards. JWTs are checked by koa-jwt; `isRevoked` loads the user on every request, so a
 * deleted user's token stops working at once. A database fault there is passed on as a fault,
 * not disguised as a 401.
 */
export function createGuards(deps: AuthDeps): Guards {
  const jwtMiddleware = koaJwt({
    secret: deps.jwt.key as unknown as Buffer,
    algorithms: ['HS256'],
    key: 'jwt',
    isRevoked: async (ctx, decoded) => {
      const id = subjectId(decoded as { sub?: unknown });
      try {
        const user = id ? await deps.users.findById(id) : null;
        if (!user || !isHuman(user.role)) return true;
        ctx.state.principal = user;
        return false;
      } catch (err) {
        ctx.state.authFault = err;
        return false;
      }
    },
  });

  const byJwt: Middleware<AppState> = async (ctx, next) => {
    await jwtMiddleware(ctx, async () => {
      const fault = (ctx.state as { authFault?: unknown }).authFault;
      if (fault) throw fault;
    });
    return next();
  };

  const byJwtOrAgentToken: Middleware<AppState> = async (ctx, next) => {
    const credential = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization').trim())?.[1];
    if (credential && looksLikeAgentToken(credential)) {
      const agent = await deps.credentials.agentByToken(credential);
      if (!agent) throw unauthorized();
      ctx.state.principal = agent;
      return next();
    }
    return byJwt(ctx, next);
  };

  const roles =
    (...allowed: Role[]): Middleware<AppState> =>
    (ctx, next) => {
      if (!ctx.state.principal || !allowed.includes(ctx.state.principal.role)) throw forbidden();
      return next();
    };

  return {
    human: compose([byJwt, roles('ADMIN', 'MEMBER')]),
    admin: compose([byJwt, roles('ADMIN')]),
    adminOrAgent: compose([byJwtOrAgentToken, roles('ADMIN', 'AGENT')]),
  };
}
