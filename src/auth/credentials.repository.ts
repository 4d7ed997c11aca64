import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type { Orm } from '../db/orm';
import { dateOf } from '../db/row-values';
import type { User } from '../users/user.entity';
import type { TokenHint, UserCredentials } from '../users/users.service';
import { hashAgentToken, tokenHint } from './agent-token';
import { HumanCredential, MachineCredential } from './credential.entity';
import type { PasswordHasher } from './passwords';

/** An agent as a socket handshake finds it: its user row (unmanaged) and the hint of its token. */
export interface AgentLogin {
  user: User;
  tokenHint: string;
  tokenUpdatedAt: Date;
}

const LOGIN_SQL =
  'select c.token_hash, u.id, u.username, u.username_key, u.role, u.created_at, u.description, u.status, u.last_report, u.last_seen_at, ' +
  'c.token_hint, c.updated_at as token_updated_at ' +
  "from machine_credentials c join users u on u.id = c.user_id where u.role = 'AGENT' and c.token_hash in ";

/**
 * The one owner of credential rows: humans' password hashes (`human_credentials`) and agents' API
 * token hashes (`machine_credentials`). Users and agents reach them only through here; a row goes
 * with its user (the foreign key cascades).
 */
export class CredentialsRepository implements UserCredentials {
  constructor(
    private readonly orm: Orm,
    private readonly passwords: PasswordHasher,
  ) {}

  /** The entity manager of the current unit of work (request, socket event or job). */
  private get em(): SqlEntityManager {
    return this.orm.em as SqlEntityManager;
  }

  hashPassword(password: string): Promise<string> {
    return this.passwords.hash(password);
  }

  /** Builds (does not flush) the password row of a user being created in `em`. */
  addPassword(em: EntityManager, user: User, passwordHash: string): void {
    em.create(HumanCredential, { user, passwordHash, updatedAt: user.createdAt });
  }

  async passwordHashOf(userId: number): Promise<string | undefined> {
    return (await this.em.findOne(HumanCredential, { user: userId }))?.passwordHash;
  }

  /** Builds (does not flush) the token row of an agent being created in `em`; only the hash is kept. */
  addToken(em: EntityManager, user: User, token: string): void {
    em.create(MachineCredential, { user, tokenHash: hashAgentToken(token), tokenHint: tokenHint(token), updatedAt: user.createdAt });
  }

  /** Replaces an agent's token; false when it has none (no such agent). */
  async replaceToken(userId: number, token: string, at: Date): Promise<boolean> {
    const updated = await this.em.nativeUpdate(MachineCredential, { user: userId }, { tokenHash: hashAgentToken(token), tokenHint: tokenHint(token), updatedAt: at });
    return updated === 1;
  }

  /** The agent a token belongs to, or null (unknown, rotated or deleted). */
  async agentByToken(token: string): Promise<User | null> {
    const cred = await this.em.findOne(MachineCredential, { tokenHash: hashAgentToken(token) }, { populate: ['user'] });
    return cred && cred.user.role === 'AGENT' ? cred.user : null;
  }

  /**
   * Agents by token hash with what their PRESENCE needs, in one indexed read outside the unit of
   * work (see `AgentsService.login`).
   */
  async agentLogins(hashes: string[]): Promise<Map<string, AgentLogin>> {
    const sql = `${LOGIN_SQL}(${hashes.map(() => '?').join(', ')})`;
    const rows = await this.em.getConnection().execute<Record<string, unknown>[]>(sql, hashes);
    return new Map(rows.map((row) => [row.token_hash as string, loginOf(row)]));
  }

  async tokenHints(userIds: number[]): Promise<Map<number, TokenHint>> {
    const creds = await this.em.find(MachineCredential, { user: { $in: userIds } });
    return new Map(creds.map((c) => [c.user.id, { tokenHint: c.tokenHint, updatedAt: c.updatedAt }]));
  }
}

function loginOf(row: Record<string, unknown>): AgentLogin {
  // A plain row, not a managed entity: the handshake only reads it.
  const user: User = {
    id: Number(row.id),
    username: row.username as string,
    usernameKey: row.username_key as string,
    role: 'AGENT' as const,
    createdAt: dateOf(row.created_at)!,
    description: (row.description as string | null) ?? null,
    status: (row.status as string | null) ?? null,
    lastReport: (row.last_report as string | null) ?? null,
    lastSeenAt: dateOf(row.last_seen_at),
  };
  return { user, tokenHint: row.token_hint as string, tokenUpdatedAt: dateOf(row.token_updated_at)! };
}
