/* eslint-disable @typescript-eslint/no-explicit-any */

export interface ApiResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Sent as-is instead of JSON-encoding `body`. */
  raw?: string;
}

/** A thin fetch wrapper for the REST API: JSON in, JSON (or text) out. */
export class Api {
  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let payload: string | undefined = opts.raw;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['Content-Type'] ??= 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body: payload });
    const text = await res.text();
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  get(path: string, token?: string) {
    return this.request('GET', path, undefined, { token });
  }
  post(path: string, body?: unknown, token?: string) {
    return this.request('POST', path, body, { token });
  }
  patch(path: string, body?: unknown, token?: string) {
    return this.request('PATCH', path, body, { token });
  }
  delete(path: string, token?: string) {
    return this.request('DELETE', path, undefined, { token });
  }

  /** Creates a human and logs them in. */
  async human(adminToken: string, username: string, role: 'ADMIN' | 'MEMBER' = 'MEMBER', password = 'password123') {
    const created = await this.post('/api/users', { username, password, role }, adminToken);
    if (created.status !== 201) throw new Error(`create ${username}: ${created.status} ${created.text}`);
    const login = await this.post('/api/auth/login', { username, password });
    return { user: login.body.user, token: login.body.token as string };
  }

  /** Creates an agent and returns it with its API token. */
  async agent(adminToken: string, username: string, description?: string) {
    const created = await this.post('/api/users/agents', { username, description }, adminToken);
    if (created.status !== 201) throw new Error(`create agent ${username}: ${created.status} ${created.text}`);
    return { agent: created.body.agent, token: created.body.api_token as string };
  }
}
