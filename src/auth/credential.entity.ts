import { EntitySchema } from '@mikro-orm/core';
import { User } from '../users/user.entity';

/** A human's password hash (bcrypt). Removed with its user. */
export class HumanCredential {
  user!: User;
  passwordHash!: string;
  updatedAt!: Date;
}

export const HumanCredentialSchema = new EntitySchema<HumanCredential>({
  class: HumanCredential,
  tableName: 'human_credentials',
  properties: {
    user: { kind: '1:1', entity: () => User, primary: true, owner: true, deleteRule: 'cascade', updateRule: 'cascade' },
    passwordHash: { type: 'string', length: 255 },
    updatedAt: { type: 'datetime', length: 3 },
  },
});

/** An agent's API token, kept only as a SHA-256 hash plus a short hint. Removed with its agent. */
export class MachineCredential {
  user!: User;
  tokenHash!: string;
  tokenHint!: string;
  updatedAt!: Date;
}

export const MachineCredentialSchema = new EntitySchema<MachineCredential>({
  class: MachineCredential,
  tableName: 'machine_credentials',
  properties: {
    user: { kind: '1:1', entity: () => User, primary: true, owner: true, deleteRule: 'cascade', updateRule: 'cascade' },
    tokenHash: { type: 'string', length: 64, unique: 'machine_credentials_token_hash_unique' },
    tokenHint: { type: 'string', length: 16 },
    updatedAt: { type: 'datetime', length: 3 },
  },
});
