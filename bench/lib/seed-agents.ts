import { hashAgentToken, newAgentToken, tokenHint } from '../../src/auth/agent-token';
import { MachineCredential } from '../../src/auth/credential.entity';
import { loadConfig } from '../../src/config/config';
import { initOrm } from '../../src/db/orm';
import { ENTITIES } from '../../src/entities';
import { createLogger } from '../../src/shared/logger';
import { User } from '../../src/users/user.entity';

/**
 * Creates `count` agents straight in a fresh database, rows and token hashes exactly as
 * AgentsService.create stores them, far faster than 20,000 REST calls. Runs the migrations first,
 * so the server that starts on this database afterwards only adds the Butler and the admin.
 */
export async function seedAgents(env: Record<string, string>, count: number): Promise<{ id: number; token: string }[]> {
  const config = loadConfig(env);
  const orm = await initOrm(config, createLogger('warn'), ENTITIES);
  try {
    const now = new Date();
    const tokens = Array.from({ length: count }, () => newAgentToken());
    const name = (i: number) => `bench-agent-${String(i).padStart(6, '0')}`;
    const em = orm.em.fork();
    const ids = new Map<string, number>();
    await em.transactional(async (tx) => {
      for (let from = 0; from < count; from += 500) {
        const rows = [];
        for (let i = from; i < Math.min(count, from + 500); i++) {
          rows.push({ username: name(i), usernameKey: name(i), role: 'AGENT' as const, createdAt: now, description: null, status: null, lastReport: null, lastSeenAt: null });
        }
        await tx.insertMany(User, rows);
      }
      const found: { id: number; username_key: string }[] = await tx
        .getConnection()
        .execute(`select id, username_key from users where role = 'AGENT'`, [], 'all', tx.getTransactionContext());
      for (const r of found) ids.set(r.username_key, Number(r.id));
      for (let from = 0; from < count; from += 500) {
        const rows = [];
        for (let i = from; i < Math.min(count, from + 500); i++) {
          rows.push({ user: ids.get(name(i))!, tokenHash: hashAgentToken(tokens[i]), tokenHint: tokenHint(tokens[i]), updatedAt: now });
        }
        await tx.insertMany(MachineCredential, rows);
      }
    });
    return tokens.map((token, i) => ({ id: ids.get(name(i))!, token }));
  } finally {
    await orm.close(true);
  }
}
