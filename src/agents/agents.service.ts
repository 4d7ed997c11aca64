import { MachineCredential } from '../auth/credential.entity';
import { dateOf } from '../db/row-values';
import type { Clock } from '../shared/clock';
import { BatchLoader } from '../shared/batch-loader';
import { conflict, notFound } from '../shared/errors';
import type { HubPort } from '../shared/ports';
import { User } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import type { AgentView } from '../users/user.view';
import { hashAgentToken, newAgentToken, tokenHint } from './agent-token';

export interface IssuedToken {
  agent: AgentView;
  api_token: string;
}

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

/** Agents: creation with a token shown once, rotation, verification and deletion. */
export class AgentsService {
  /** Handshakes' token look-ups, by token hash. */
  private readonly logins = new BatchLoader<string, AgentLogin>((hashes) => this.loadLogins(hashes));

  constructor(
    private readonly users: UsersService,
    private readonly clock: Clock,
    private readonly hub: () => HubPort,
  ) {}

  async create(input: { username: string; description?: string | null }): Promise<IssuedToken> {
    const token = newAgentToken();
    const agent = await this.users.insertUnique(async (em) => {
      const user = this.users.newUser(em, input.username, 'AGENT', input.description ?? null);
      em.create(MachineCredential, { user, tokenHash: hashAgentToken(token), tokenHint: tokenHint(token), updatedAt: user.createdAt });
      return user;
    });
    return { agent: (await this.users.view(agent)) as AgentView, api_token: token };
  }

  /** Replaces the token; the old one stops working at once and its sockets are dropped. */
  async rotate(id: number): Promise<IssuedToken> {
    const token = newAgentToken();
    const agent = await this.users.em.transactional(async (em) => {
      const user = await em.findOne(User, { id });
      if (!user || user.role !== 'AGENT') throw notFound('No such agent');
      const updated = await em.nativeUpdate(
        MachineCredential,
        { user: id },
        { tokenHash: hashAgentToken(token), tokenHint: tokenHint(token), updatedAt: this.clock.now() },
      );
      if (updated !== 1) throw notFound('No such agent');
      return user;
    });
    await this.hub().credentialsRevoked(id);
    return { agent: (await this.users.view(agent)) as AgentView, api_token: token };
  }

  /** The agent a token belongs to, or null (unknown, rotated or deleted). */
  async authenticate(token: string): Promise<User | null> {
    const cred = await this.users.em.findOne(MachineCredential, { tokenHash: hashAgentToken(token) }, { populate: ['user'] });
    return cred && cred.user.role === 'AGENT' ? cred.user : null;
  }

  /**
   * `authenticate` for socket handshakes, with what the agent's PRESENCE needs: indexed reads outside
   * the unit of work, and the handshakes that arrive together share one. Thousands of agents
   * reconnect at once after a restart: the entity manager's per-query work was most of a handshake's
   * CPU, and the garbage of queries queued for the one connection was promoted while it waited and
   * stayed reserved in the heap next to the sockets that lived on.
   */
  login(token: string): Promise<AgentLogin | undefined> {
    return this.logins.get(hashAgentToken(token));
  }

  private async loadLogins(hashes: string[]): Promise<Map<string, AgentLogin>> {
    const sql = `${LOGIN_SQL}(${hashes.map(() => '?').join(', ')})`;
    const rows = await this.users.em.getConnection().execute<Record<string, unknown>[]>(sql, hashes);
    return new Map(rows.map((row) => [row.token_hash as string, loginOf(row)]));
  }

  /** An agent's AGENT_STATUS: its `status` and `last_report`, stored on its user row. */
  reportStatus(agentId: number, status: string, report: string | null): Promise<void> {
    return this.users.setAgentStatus(agentId, status, report);
  }

  async remove(id: number): Promise<void> {
    const user = await this.users.findById(id);
    if (user?.role === 'BUTLER') throw conflict('The Butler cannot be deleted');
    await this.users.remove(id, 'AGENT');
  }
}

function loginOf(row: Record<string, unknown>): AgentLogin {
  const user = Object.assign(new User(), {
    id: Number(row.id),
    username: row.username as string,
    usernameKey: row.username_key as string,
    role: 'AGENT' as const,
    createdAt: dateOf(row.created_at)!,
    description: (row.description as string | null) ?? null,
    status: (row.status as string | null) ?? null,
    lastReport: (row.last_report as string | null) ?? null,
    lastSeenAt: dateOf(row.last_seen_at),
  });
  return { user, tokenHint: row.token_hint as string, tokenUpdatedAt: dateOf(row.token_updated_at)! };
}
