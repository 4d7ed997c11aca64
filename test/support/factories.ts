/**
 * Principals made through the REST API, as a user would: humans that can log in, agents with their
 * API token, logins, the Butler's id, and usernames no other test in the process uses.
 */
import type { TestApp } from './test-app';
import type { RestClient } from './rest-client';

/** A human as created and logged in: the login's user object and its JWT. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Person = { user: any; token: string };
/** An agent as created: the agent object and its API token (shown once). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Agent = { agent: any; token: string };

/** Creates a human through `POST /api/users` and logs them in. */
export async function createHuman(api: RestClient, adminToken: string, username: string, role: 'ADMIN' | 'MEMBER' = 'MEMBER', password = 'password123'): Promise<Person> {
  const created = await api.post('/api/users', { username, password, role }, adminToken);
  if (created.status !== 201) throw new Error(`create ${username}: ${created.status} ${created.text}`);
  const login = await api.post('/api/auth/login', { username, password });
  return { user: login.body.user, token: login.body.token as string };
}

/** Creates an agent through `POST /api/users/agents` and returns it with its API token. */
export async function createAgent(api: RestClient, adminToken: string, username: string, description?: string): Promise<Agent> {
  const created = await api.post('/api/users/agents', { username, description }, adminToken);
  if (created.status !== 201) throw new Error(`create agent ${username}: ${created.status} ${created.text}`);
  return { agent: created.body.agent, token: created.body.api_token as string };
}

/** Logs in and returns the token, failing loudly otherwise. */
export async function login(api: RestClient, username: string, password: string): Promise<string> {
  const res = await api.post('/api/auth/login', { username, password });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  return res.body.token;
}

/** The Butler's user id, read through `GET /api/users/butler`. */
export async function butlerId(s: TestApp): Promise<number> {
  const res = await s.api.get('/api/users/butler', s.adminToken);
  if (res.status !== 200) throw new Error(`GET /api/users/butler: ${res.status}`);
  return res.body.id;
}

let counter = 0;
/** A username no other test in this process uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}${++counter}_${Math.random().toString(36).slice(2, 6)}`;
}
