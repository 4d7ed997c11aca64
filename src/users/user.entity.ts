import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../shared/protocol';

// Roles are part of the wire contract (shared/protocol.ts); re-exported for the modules that own users.
export { ROLES, type Role } from '../shared/protocol';
export const HUMAN_ROLES: readonly Role[] = ['ADMIN', 'MEMBER'];

/** Every principal is a user row (PROTOCOL §1); agent presence fields are null for humans. */
export class User {
  id!: number;
  username!: string;
  /** Lower-cased username: the unique key, so names compare case-insensitively. */
  usernameKey!: string;
  role!: Role;
  createdAt!: Date;
  description: string | null = null;
  status: string | null = null;
  lastReport: string | null = null;
  lastSeenAt: Date | null = null;
}

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'users',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    username: { type: 'string', length: 64 },
    usernameKey: { type: 'string', length: 64, unique: 'users_username_key_unique' },
    role: { type: 'string', length: 16, index: 'users_role_index' },
    createdAt: { type: 'datetime', length: 3 },
    description: { type: 'text', nullable: true },
    status: { type: 'string', length: 32, nullable: true },
    lastReport: { type: 'text', nullable: true },
    lastSeenAt: { type: 'datetime', length: 3, nullable: true },
  },
});

export const isHuman = (role: Role) => role === 'ADMIN' || role === 'MEMBER';
