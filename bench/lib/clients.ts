import { io, type Socket } from 'socket.io-client';

export interface ConnectOptions {
  /** Loopback source address for the TCP connection (e.g. 127.0.0.2), to spread ephemeral ports. */
  localAddress?: string;
  timeoutMs?: number;
}

/**
 * One socket.io-client socket on its own connection (`forceNew`), websocket only, no reconnection:
 * a bench counts failures instead of hiding them behind retries.
 */
export function connectSocket(url: string, nsp: string, auth: Record<string, unknown>, opts: ConnectOptions = {}): Promise<Socket> {
  const socket = io(`${url}${nsp}`, {
    auth,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: opts.timeoutMs ?? 20_000,
    // engine.io-client hands `localAddress` to the `ws` WebSocket, which binds the TCP socket to it.
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  } as Parameters<typeof io>[1]);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(err);
    });
  });
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i], i);
    }
  });
  await Promise.all(runners);
  return out;
}

/** Small REST helper: JSON in, JSON out, throws on an unexpected status. */
export async function rest<T = any>(url: string, method: string, path: string, body?: unknown, token?: string, expect = [200, 201]): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Logs in and returns the JWT and the user id. */
export async function login(url: string, username: string, password: string): Promise<{ token: string; id: number }> {
  const r = await rest<{ token: string; user: { id: number } }>(url, 'POST', '/api/auth/login', { username, password });
  return { token: r.token, id: r.user.id };
}
