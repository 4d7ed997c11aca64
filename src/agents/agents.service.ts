import { MachineCredential } from '../auth/credential.entity';
import type { Clock } from '../shared/clock';
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

/** Agents: creation with a token shown once, rotation, verification and deletion. */
export class AgentsService {
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

  async remove(id: number): Promise<void> {
    const user = await this.users.findById(id);
    if (user?.role === 'BUTLER') throw conflict('The Butler cannot be deleted');
    await this.users.remove(id, 'AGENT');
  }
}
