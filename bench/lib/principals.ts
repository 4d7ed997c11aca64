import type { PairSpec } from '../throughput-worker';
import { inParallel, login, rest } from './clients';

/**
 * `count` members (REST-created, logged in) and as many agents (REST-created, with their API tokens) on
 * EchoCenter, paired one to one: the handshake credentials of the throughput workload.
 */
export async function echoCenterPairs(url: string, adminPassword: string, count: number): Promise<PairSpec[]> {
  const admin = await login(url, 'admin', adminPassword);
  const range = Array.from({ length: count }, (_, i) => i);
  const members = await inParallel(range, 8, async (i) => {
    const username = `bench-member-${i}`;
    await rest(url, 'POST', '/api/users', { username, password: 'bench-password', role: 'MEMBER' }, admin.token);
    return login(url, username, 'bench-password');
  });
  const agents = await inParallel(range, 8, async (i) => {
    const r = await rest<{ agent: { id: number }; api_token: string }>(url, 'POST', '/api/users/agents', { username: `bench-agent-${i}` }, admin.token);
    return { id: r.agent.id, token: r.api_token };
  });
  return range.map((i) => ({
    member: { id: members[i].id, auth: { token: members[i].token } },
    agent: { id: agents[i].id, auth: { token: agents[i].token } },
  }));
}

/** The same pairs on the bare relay, where a client just says who it is (bench/lib/relay.ts). */
export function relayPairs(count: number): PairSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    member: { id: i + 1, auth: { id: i + 1 } },
    agent: { id: 100_001 + i, auth: { id: 100_001 + i } },
  }));
}
