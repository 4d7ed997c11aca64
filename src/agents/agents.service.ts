import { hashAgentToken, newAgentToken } from '../auth/agent-token';
import type { AgentLogin, CredentialsRepository } from '../auth/credentials.repository';
import type { Clock } from '../shared/clock';
import { BatchLoader } from '../shared/batch-loader';
import { conflict, notFound } from '../shared/errors';
import type { HubPort } from '../shared/ports';
import type { User } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import type { AgentView } from '../users/user.view';

export type { AgentLogin };

export interface IssuedToken {
  agent: AgentView;
  api_token: string;
}

/** Agents: creation with a token shown once, rotation, verification and deletion. */
export class AgentsService {
  /** Handshakes' token look-ups, by token hash. */
  private readonly logins = new BatchLoader<string, AgentLogin>((hashes) => this.credentials.agentLogins(hashes));

  constructor(
    private readonly users: UsersService,
    private readonly credentials: CredentialsRepository,
    private readonly clock: Clock,
    private readonly hub: () => HubPort,
  ) {}

  async create(input: { username: string; description?: string | null }): Promise<IssuedToken> {
    const token = newAgentToken();
    const agent = await this.users.insertUnique(async (em) => {
      const user = this.users.newUser(em, input.username, 'AGENT', input.description ?? null);
      this.credentials.addToken(em, user, token);
      return user;
    });
    return { agent: (await this.users.view(agent)) as AgentView, api_token: token };
  }

  /** Replaces the token; the old one stops working at once and its sockets are dropped. */
  async rotate(id: number): Promise<IssuedToken> {
    const token = newAgentToken();
    const agent = await this.users.findById(id);
    if (!agent || agent.role !== 'AGENT') throw notFound('No such agent');
    // One UPDATE decides: an agent deleted since the read has no token row left to change.
    if (!(await this.credentials.replaceToken(id, token, this.clock.now()))) throw notFound('No such agent');
    await this.hub().credentialsRevoked(id);
    return { agent: (await this.users.view(agent)) as AgentView, api_token: token };
  }

  /** The agent a token belongs to, or null (unknown, rotated or deleted). */
  async authenticate(token: string): Promise<User | null> {
    return this.credentials.agentByToken(token);
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
