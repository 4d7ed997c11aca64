import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type { Orm } from '../db/orm';
import { isPostgres } from '../db/dialect';
import type { Clock } from '../shared/clock';
import { conflict, notFound } from '../shared/errors';
import type { HubPort, PresencePort } from '../shared/ports';
import { User, type Role } from './user.entity';
import type { AscendingPage } from './users.schemas';
import { userView, type UserView } from './user.view';

export const BUTLER_USERNAME = 'butler';

/** An agent's token hint and when the token was issued. */
export interface TokenHint {
  tokenHint: string;
  updatedAt: Date;
}

/**
 * What users need from the credential rows, which `auth` owns (its CredentialsRepository
 * implements this): a password for a new human, and the token hints in agents' user objects.
 */
export interface UserCredentials {
  /** Hashes a password (slow: bcrypt), before the transaction that stores it. */
  hashPassword(password: string): Promise<string>;
  /** Builds (does not flush) the password row of a user being created in `em`. */
  addPassword(em: EntityManager, user: User, passwordHash: string): void;
  /** The token hint of each of these agents that has a token. */
  tokenHints(agentIds: number[]): Promise<Map<number, TokenHint>>;
}

export interface UsersDeps {
  orm: Orm;
  credentials: UserCredentials;
  clock: Clock;
  hub: () => HubPort;
  presence: () => PresencePort;
  butlerMode: () => 'llm' | 'rules';
}

/** Users of every role: lookup, creation, deletion and their public views. */
export class UsersService {
  constructor(private readonly deps: UsersDeps) {}

  /** The entity manager of the current unit of work (request, socket event or job). */
  get em(): SqlEntityManager {
    return this.deps.orm.em as SqlEntityManager;
  }

  findById(id: number): Promise<User | null> {
    return this.em.findOne(User, { id });
  }

  findByUsername(username: string): Promise<User | null> {
    return this.em.findOne(User, { usernameKey: username.toLowerCase() });
  }

  async getButler(): Promise<User> {
    const butler = await this.em.findOne(User, { role: 'BUTLER' });
    if (!butler) throw new Error('The Butler user is missing: bootstrap did not run');
    return butler;
  }

  /** Creates a human with a password; a taken name (any case) is a 409. */
  async createHuman(input: { username: string; password: string; role: Extract<Role, 'ADMIN' | 'MEMBER'> }): Promise<User> {
    const passwordHash = await this.deps.credentials.hashPassword(input.password);
    return this.insertUnique(async (em) => {
      const user = this.newUser(em, input.username, input.role);
      this.deps.credentials.addPassword(em, user, passwordHash);
      return user;
    });
  }

  /** Builds (does not flush) a user row in `em`. */
  newUser(em: EntityManager, username: string, role: Role, description: string | null = null): User {
    return em.create(User, {
      username,
      usernameKey: username.toLowerCase(),
      role,
      createdAt: this.deps.clock.now(),
      description,
      status: null,
      lastReport: null,
      lastSeenAt: null,
    });
  }

  /** Runs `build` in a transaction; a unique-name violation becomes a 409. */
  async insertUnique<T>(build: (em: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.em.transactional((em) => build(em));
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw conflict('That username is taken');
      throw err;
    }
  }

  /** Stores the status and report an agent sent (no read first: the socket's identity is the agent). */
  async setAgentStatus(id: number, status: string, report: string | null): Promise<void> {
    await this.em.nativeUpdate(User, { id }, { status, lastReport: report });
  }

  findByIds(ids: readonly number[]): Promise<User[]> {
    return this.em.find(User, { id: { $in: [...ids] } });
  }

  /** Stores when these agents' last sockets left (one statement for the lot). */
  async markLastSeen(ids: readonly number[], at: Date): Promise<void> {
    await this.em.nativeUpdate(User, { id: { $in: [...ids] } }, { lastSeenAt: at });
  }

  list(page: AscendingPage, roles?: Role[]): Promise<User[]> {
    return this.em.find(
      User,
      { ...(page.after_id ? { id: { $gt: page.after_id } } : {}), ...(roles ? { role: { $in: roles } } : {}) },
      { orderBy: { id: 'asc' }, limit: page.limit },
    );
  }

  /**
   * Deletes a user and its credentials. The Butler and the last admin cannot be deleted; the admin
   * rows are locked first on PostgreSQL so that two admins deleting each other cannot both succeed.
   */
  async remove(id: number, expectRole?: Role): Promise<void> {
    await this.em.transactional(async (em) => {
      const user = await em.findOne(User, { id });
      if (!user || (expectRole && user.role !== expectRole)) throw notFound('No such user');
      if (user.role === 'BUTLER') throw conflict('The Butler cannot be deleted');
      if (user.role === 'ADMIN') {
        const lock = isPostgres(em.getPlatform()) ? ' for update' : '';
        const admins = await em.getConnection().execute(`select id from users where role = 'ADMIN'${lock}`, [], 'all', em.getTransactionContext());
        if (admins.length <= 1) throw conflict('The last admin cannot be deleted');
      }
      await em.nativeDelete(User, { id });
    });
    await this.deps.hub().credentialsRevoked(id);
  }

  /** Views for a page of users, with presence and token hints fetched in one query each. */
  async views(users: User[]): Promise<UserView[]> {
    const agentIds = users.filter((u) => u.role === 'AGENT').map((u) => u.id);
    const [hints, online] = await Promise.all([
      agentIds.length ? this.deps.credentials.tokenHints(agentIds) : Promise.resolve(new Map<number, TokenHint>()),
      agentIds.length ? this.deps.presence().onlineIds(agentIds) : Promise.resolve(new Set<number>()),
    ]);
    return users.map((u) => {
      if (u.role === 'BUTLER') return userView(u, { online: true, butlerMode: this.deps.butlerMode() });
      const hint = hints.get(u.id);
      return userView(u, { online: online.has(u.id), tokenHint: hint?.tokenHint, tokenUpdatedAt: hint?.updatedAt });
    });
  }

  async view(user: User): Promise<UserView> {
    return (await this.views([user]))[0];
  }
}
