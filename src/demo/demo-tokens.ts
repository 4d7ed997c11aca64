/* eslint-disable @typescript-eslint/no-explicit-any -- REST bodies, read as the API documents them */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A small REST caller for the demo's setup: JSON in and out, a bearer token when given. */
async function call(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function expectStatus(res: { status: number; body: any }, status: number, what: string): any {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Logs in through `POST /api/auth/login` and returns the JWT. */
export async function adminLogin(baseUrl: string, username: string, password: string): Promise<string> {
  return expectStatus(await call(baseUrl, 'POST', '/api/auth/login', { username, password }), 200, `login as ${username}`).token;
}

/** The demo's agent tokens on disk (mode 0600: they are credentials), by agent username. */
export class TokenFile {
  constructor(readonly path: string) {}

  async read(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  async write(tokens: Record<string, string>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, this.path);
  }
}

/** How an agent's token was obtained on this run. */
export type TokenOrigin = 'reused' | 'created' | 'rotated';

/**
 * An API token for each agent, through the real REST API: the stored one when the server still
 * accepts it (`POST /api/users/agents/test-connection`), a rotated one when the agent exists but its
 * stored token is refused or lost, a new agent (`POST /api/users/agents`) otherwise.
 */
export async function ensureAgentTokens(
  baseUrl: string,
  adminToken: string,
  agents: { username: string; description: string }[],
  file: TokenFile,
): Promise<Record<string, { token: string; origin: TokenOrigin }>> {
  const stored = await file.read();
  const existing = expectStatus(await call(baseUrl, 'GET', '/api/users/agents?limit=200', undefined, adminToken), 200, 'list agents') as { id: number; username: string }[];
  const result: Record<string, { token: string; origin: TokenOrigin }> = {};
  for (const { username, description } of agents) {
    const known = existing.find((a) => a.username.toLowerCase() === username.toLowerCase());
    const saved = stored[username];
    if (known && saved) {
      const check = expectStatus(await call(baseUrl, 'POST', '/api/users/agents/test-connection', { api_token: saved }, adminToken), 200, 'test a token');
      if (check.valid && check.agent_id === known.id) {
        result[username] = { token: saved, origin: 'reused' };
        continue;
      }
    }
    if (known) {
      const rotated = expectStatus(await call(baseUrl, 'PATCH', `/api/users/agents/${known.id}/token`, undefined, adminToken), 200, `rotate ${username}'s token`);
      result[username] = { token: rotated.api_token, origin: 'rotated' };
    } else {
      const created = expectStatus(await call(baseUrl, 'POST', '/api/users/agents', { username, description }, adminToken), 201, `create ${username}`);
      result[username] = { token: created.api_token, origin: 'created' };
    }
  }
  await file.write({ ...stored, ...Object.fromEntries(Object.entries(result).map(([name, t]) => [name, t.token])) });
  return result;
}
