import { RequestContext } from '@mikro-orm/core';
import type { Socket } from 'socket.io';
import { looksLikeAgentToken } from '../auth/agent-token';
import type { AgentsService } from '../agents/agents.service';
import { subjectId, type JwtService } from '../auth/jwt';
import type { Orm } from '../db/orm';
import type { ErrorCode } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { isHuman, type Role } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import { userView, type AgentView } from '../users/user.view';
import { authorizationHeaderOf } from './handshake-leftovers';
import type { HandshakeTurns } from './handshake-turns';

export type NamespaceKind = 'chat' | 'agents' | 'monitor';

/** What the hub keeps on `socket.data`. */
export interface SocketIdentity {
  id: number;
  username: string;
  role: Role;
}

export interface SocketData {
  user: SocketIdentity;
  /** The `auth.last_id` asked for, when the client wants a replay. */
  replayAfter?: number;
  /**
   * An agent's PRESENCE payload as the handshake read it, for the hub to announce if this is the
   * agent's first socket; the hub clears it on connection, so that no socket keeps it.
   */
  arrival?: AgentView;
}

export interface HandshakeDeps {
  orm: Orm;
  jwt: JwtService;
  users: UsersService;
  agents: AgentsService;
  logger: Logger;
  /** Whose turn it is to identify their client (a burst waits in line: handshake-turns.ts). */
  turns: HandshakeTurns;
}

/** A `connect_error` with the protocol's message, `data.code` and, for a refused credential, `data.hint`. */
export class HandshakeError extends Error {
  readonly data: { code: ErrorCode; hint?: string };
  constructor(message: string, code: ErrorCode, hint?: string) {
    super(message);
    this.data = hint ? { code, hint } : { code };
  }
}

/**
 * Which credential each namespace takes. The hint depends on the namespace only, never on the token
 * given, so a refusal tells nobody whether a token exists: it only points at the wrong door.
 */
export const CREDENTIAL_HINTS: Record<NamespaceKind, string> = {
  agents: "/agents takes an agent's API token (auth.token or Authorization: Bearer); /chat and /monitor take a login JWT",
  chat: "/chat takes a login JWT from POST /api/auth/login; an agent's API token connects to /agents",
  monitor: "/monitor takes an admin's login JWT from POST /api/auth/login; an agent's API token connects to /agents",
};

const refuse = (kind: NamespaceKind) => new HandshakeError('unauthorized', 'UNAUTHORIZED', CREDENTIAL_HINTS[kind]);

/**
 * The credential of a handshake: `auth.token`, else an `Authorization: Bearer` header (of the
 * connection's first request, kept by handshake-leftovers.ts for every namespace on it). A token in
 * the query string is never read.
 */
function credentialOf(socket: Socket): string | undefined {
  const fromAuth = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof fromAuth === 'string' && fromAuth) return fromAuth;
  const header = authorizationHeaderOf(socket);
  return typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] : undefined;
}

function replayAfterOf(socket: Socket): number | undefined | 'invalid' {
  const raw = (socket.handshake.auth as { last_id?: unknown } | undefined)?.last_id;
  if (raw === undefined || raw === null) return undefined;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 'invalid';
}

/** Namespace middleware: who may connect where (PROTOCOL §3). */
export function handshake(kind: NamespaceKind, deps: HandshakeDeps) {
  return (socket: Socket, next: (err?: Error) => void): void => {
    const turn = () => (clientGone(socket) ? Promise.reject(new HandshakeError('gone', 'UNAVAILABLE')) : identify(kind, socket, deps));
    deps.turns.take(turn).then(
      (data) => {
        socket.data = data;
        next();
      },
      (err: unknown) => {
        if (err instanceof HandshakeError) return next(err);
        deps.logger.error({ err, nsp: kind }, 'handshake failed');
        next(new HandshakeError('unavailable', 'UNAVAILABLE'));
      },
    );
  };
}

/** The client closed its connection while its handshake waited for a turn: nobody to identify. */
function clientGone(socket: Socket): boolean {
  return socket.conn.readyState === 'closing' || socket.conn.readyState === 'closed';
}

async function identify(kind: NamespaceKind, socket: Socket, deps: HandshakeDeps): Promise<SocketData> {
  const credential = credentialOf(socket);
  if (!credential) throw refuse(kind);
  let user: SocketIdentity;
  let arrival: AgentView | undefined;
  if (kind === 'agents') {
    const login = await agentOf(credential, deps);
    user = login.user;
    arrival = userView(login.user, { online: true, tokenHint: login.tokenHint, tokenUpdatedAt: login.tokenUpdatedAt }) as AgentView;
  } else {
    user = await RequestContext.create(deps.orm.em, () => humanOf(kind, credential, deps));
    if (kind === 'monitor' && user.role !== 'ADMIN') throw new HandshakeError('forbidden', 'FORBIDDEN', '/monitor is for admins');
  }
  const replayAfter = replayAfterOf(socket);
  if (replayAfter === 'invalid') throw new HandshakeError('invalid last_id', 'VALIDATION_ERROR');
  return { user: { id: user.id, username: user.username, role: user.role }, replayAfter, arrival };
}

async function agentOf(credential: string, deps: HandshakeDeps) {
  // A JWT on /agents is the wrong kind of credential: unauthorized, like any invalid one.
  const agent = looksLikeAgentToken(credential) ? await deps.agents.login(credential) : null;
  if (!agent) throw refuse('agents');
  return agent;
}

async function humanOf(kind: NamespaceKind, credential: string, deps: HandshakeDeps) {
  const claims = deps.jwt.verify(credential);
  const id = claims ? subjectId(claims) : undefined;
  const user = id ? await deps.users.findById(id) : null;
  if (!user || !isHuman(user.role)) throw refuse(kind);
  return user;
}
