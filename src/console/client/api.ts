/**
 * The REST client of the console: same origin, JSON, the JWT from the tab's session. Errors carry
 * the server's `{error, code}` so that screens can say what happened; a 401 on any call means the
 * token expired or was revoked, and ends the session.
 */
import type { AuthRequestView } from '../state/authorizations';
import type { UserObject } from '../state/console-state';
import type { Envelope, SystemLogPayload } from '../../shared/protocol';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'echocenter.token';
const USER_KEY = 'echocenter.user';

/** The session of this tab: sessionStorage, so it ends with the tab and is not shared with others. */
export const session = {
  load(): { token: string; user: UserObject } | undefined {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const user = sessionStorage.getItem(USER_KEY);
    return token && user ? { token, user: JSON.parse(user) as UserObject } : undefined;
  },
  save(token: string, user: UserObject): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

export class Api {
  constructor(
    private readonly token: string | undefined,
    /** Called once per 401: the session is over. */
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, undefined, 'The server cannot be reached.');
    }
    if (res.status === 204) return undefined as T;
    const data = (await res.json().catch(() => undefined)) as { error?: string; code?: string } | undefined;
    if (!res.ok) {
      if (res.status === 401 && this.token) this.onUnauthorized();
      throw new ApiError(res.status, data?.code, data?.error ?? `HTTP ${res.status}`);
    }
    return data as T;
  }

  login(username: string, password: string) {
    return this.request<{ token: string; user: UserObject }>('POST', '/api/auth/login', { username, password });
  }
  butler() {
    return this.request<UserObject>('GET', '/api/users/butler');
  }
  agents() {
    return this.request<UserObject[]>('GET', '/api/users/agents?limit=200');
  }
  users() {
    return this.request<UserObject[]>('GET', '/api/users?limit=200');
  }
  history(peerId: number, limit: number, beforeId?: number) {
    return this.request<Envelope[]>('GET', `/api/chat/history/${peerId}?limit=${limit}${beforeId ? `&before_id=${beforeId}` : ''}`);
  }
  authRequests(limit = 100) {
    return this.request<AuthRequestView[]>('GET', `/api/chat/auth/requests?limit=${limit}`);
  }
  decide(actionId: string, approved: boolean, reason?: string) {
    return this.request<{ action_id: string; status: 'APPROVED' | 'REJECTED' }>('POST', '/api/chat/auth/response', { action_id: actionId, approved, ...(reason ? { reason } : {}) });
  }
  systemLog(limit = 100) {
    return this.request<SystemLogPayload[]>('GET', `/api/messages?limit=${limit}`);
  }
  createUser(username: string, password: string, role: 'ADMIN' | 'MEMBER') {
    return this.request<{ user: UserObject }>('POST', '/api/users', { username, password, role });
  }
  deleteUser(id: number) {
    return this.request<void>('DELETE', `/api/users/${id}`);
  }
  createAgent(username: string, description?: string) {
    return this.request<{ agent: UserObject; api_token: string }>('POST', '/api/users/agents', { username, ...(description ? { description } : {}) });
  }
  rotateToken(id: number) {
    return this.request<{ agent: UserObject; api_token: string }>('PATCH', `/api/users/agents/${id}/token`);
  }
  testConnection(apiToken: string) {
    return this.request<{ valid: boolean; agent_id?: number; username?: string }>('POST', '/api/users/agents/test-connection', { api_token: apiToken });
  }
  deleteAgent(id: number) {
    return this.request<void>('DELETE', `/api/users/agents/${id}`);
  }
}
