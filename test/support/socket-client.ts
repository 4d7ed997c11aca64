/**
 * The one socket.io client of the suites: it records every event in arrival order (so "replay before
 * live" and "replay:done before live" can be asserted), waits for a predicate over past and future
 * events, and checks that nothing matching arrived. Also: handshake refusals and ack assertions.
 */
import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { Ack, Envelope } from '../../src/shared/protocol';
import { sleep } from './waits';

export type Namespace = 'chat' | 'agents' | 'monitor';

/** How a client connects: auth payload or callback, headers, query, reconnection. */
export interface OpenOptions {
  auth?: Record<string, unknown> | ((cb: (data: object) => void) => void);
  extraHeaders?: Record<string, string>;
  query?: Record<string, string>;
  reconnection?: boolean;
  /** Milliseconds before the client's own reconnection attempt (socket.io-client default: 1000). */
  reconnectionDelay?: number;
}

/** One event as the client received it. */
export interface ClientEvent {
  event: string;
  data: unknown;
}

/** A socket that records everything it receives, in order. */
export interface TestClient {
  socket: Socket;
  /** Every event received, in arrival order (`message`, `replay:done`, …). */
  events: ClientEvent[];
  /** The `message` envelopes received, in arrival order. */
  readonly received: Envelope[];
  send(envelope: unknown): Promise<Ack>;
  /** Resolves with the first received envelope (past or future) that matches. */
  waitFor(match: (e: Envelope) => boolean, timeoutMs?: number): Promise<Envelope>;
  /** Resolves with the data of the first event of that name (past or future). */
  waitEvent(name: string, timeoutMs?: number): Promise<unknown>;
  /** Resolves with the disconnect reason (immediately when already disconnected). */
  disconnected(timeoutMs?: number): Promise<string>;
  close(): void;
}

const sockets: Socket[] = [];

function build(url: string, nsp: Namespace, opts: OpenOptions): TestClient {
  const socketOpts: Partial<ManagerOptions & SocketOptions> = {
    auth: opts.auth ?? {},
    transports: ['websocket'],
    reconnection: opts.reconnection ?? false,
    forceNew: true,
  };
  if (opts.extraHeaders) socketOpts.extraHeaders = opts.extraHeaders;
  if (opts.query) socketOpts.query = opts.query;
  if (opts.reconnectionDelay !== undefined) socketOpts.reconnectionDelay = opts.reconnectionDelay;
  const socket = io(`${url}/${nsp}`, socketOpts);
  sockets.push(socket);
  const events: ClientEvent[] = [];
  const waiters: { match: (ev: ClientEvent) => boolean; resolve: (ev: ClientEvent) => void }[] = [];
  let disconnectReason: string | undefined;
  const record = (event: string, data: unknown) => {
    const ev = { event, data };
    events.push(ev);
    for (const w of [...waiters]) {
      if (w.match(ev)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(ev);
      }
    }
  };
  // onAny is installed before the connection exists, so nothing sent right after `connect` is missed.
  socket.onAny((event: string, data: unknown) => record(event, data));
  socket.on('disconnect', (reason) => {
    disconnectReason = reason;
    record('disconnect', reason);
  });
  const wait = (match: (ev: ClientEvent) => boolean, timeoutMs: number, what: string) => {
    const found = events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<ClientEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.findIndex((w) => w.resolve === done), 1);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const done = (ev: ClientEvent) => {
        clearTimeout(timer);
        resolve(ev);
      };
      waiters.push({ match, resolve: done });
    });
  };
  return {
    socket,
    events,
    get received() {
      return events.filter((ev) => ev.event === 'message').map((ev) => ev.data as Envelope);
    },
    send: (envelope) => socket.timeout(10_000).emitWithAck('message', envelope),
    waitFor: (match, timeoutMs = 5_000) =>
      wait((ev) => ev.event === 'message' && match(ev.data as Envelope), timeoutMs, 'a message').then((ev) => ev.data as Envelope),
    waitEvent: (name, timeoutMs = 5_000) => wait((ev) => ev.event === name, timeoutMs, `event ${name}`).then((ev) => ev.data),
    disconnected: (timeoutMs = 5_000) =>
      disconnectReason !== undefined
        ? Promise.resolve(disconnectReason)
        : wait((ev) => ev.event === 'disconnect', timeoutMs, 'disconnect').then((ev) => ev.data as string),
    close: () => socket.disconnect(),
  };
}

/** Opens a socket and resolves once connected; rejects with the connect_error. */
export function open(url: string, nsp: Namespace, opts: OpenOptions = {}): Promise<TestClient> {
  const client = build(url, nsp, opts);
  return new Promise((resolve, reject) => {
    client.socket.once('connect', () => resolve(client));
    client.socket.once('connect_error', (err) => {
      client.socket.disconnect();
      reject(err);
    });
  });
}

/** Shorthand: a socket with this `auth` payload (default `{}`) and no reconnection unless asked. */
export function connect(url: string, nsp: Namespace, auth: Record<string, unknown> = {}, opts: { reconnection?: boolean } = {}): Promise<TestClient> {
  return open(url, nsp, { auth, ...opts });
}

/** Shorthand: a socket authenticated with `auth.token` (and optional extra auth fields). */
export function openWith(url: string, nsp: Namespace, token: string, extra: Record<string, unknown> = {}): Promise<TestClient> {
  return open(url, nsp, { auth: { token, ...extra } });
}

/** A refused handshake: the connect_error's message and data. */
export interface Refusal {
  message: string;
  data: unknown;
}

/** Expects the handshake to be refused and resolves with the connect_error's message and data. */
export async function refusal(url: string, nsp: Namespace, opts: OpenOptions = {}): Promise<Refusal> {
  try {
    const client = await open(url, nsp, opts);
    client.close();
  } catch (err) {
    const e = err as Error & { data?: unknown };
    return { message: e.message, data: e.data };
  }
  throw new Error(`the handshake on /${nsp} was accepted but should have been refused`);
}

/** Disconnects every socket a test opened (call in afterEach/afterAll so Jest can exit). */
export function closeAll(): void {
  for (const s of sockets.splice(0)) s.disconnect();
}

/** Waits a little and asserts that nothing matching arrived (for "must not receive" checks). */
export async function expectNothing(client: TestClient, match: (e: Envelope) => boolean, ms = 300): Promise<void> {
  await sleep(ms);
  const got = client.received.filter(match);
  if (got.length) throw new Error(`unexpected message(s): ${JSON.stringify(got)}`);
}

/**
 * Waits once, then asserts that none of the clients received a matching envelope (the "must not
 * arrive" half of a routing check).
 */
export async function expectNoneOf(clients: TestClient[], match: (e: Envelope) => boolean, ms = 200): Promise<void> {
  await sleep(ms);
  for (const c of clients) await expectNothing(c, match, 0);
}

/** Narrows an ack to its success shape, failing with the refusal when it is not one. */
export function okAck(ack: Ack): Extract<Ack, { ok: true }> {
  if (!ack.ok) throw new Error(`expected ok ack, got ${JSON.stringify(ack)}`);
  return ack;
}

/** Asserts a refusal ack: exactly `{ok:false, error, code}` with a non-empty message. */
export function expectRefused(ack: Ack, code: string): void {
  expect(ack).toEqual({ ok: false, error: expect.any(String), code });
  expect((ack as { error: string }).error.length).toBeGreaterThan(0);
}

/** Matches envelopes by payload (tests use unique payload strings). */
export const withPayload = (payload: unknown) => (e: Envelope) => JSON.stringify(e.payload) === JSON.stringify(payload);

/** What every refusal on a namespace says: the same code and hint whatever the token was. */
export const REFUSAL_HINTS = {
  agents: "/agents takes an agent's API token (auth.token or Authorization: Bearer); /chat and /monitor take a login JWT",
  chat: "/chat takes a login JWT from POST /api/auth/login; an agent's API token connects to /agents",
  monitor: "/monitor takes an admin's login JWT from POST /api/auth/login; an agent's API token connects to /agents",
} as const;

/** The `connect_error` of a credential refused on `nsp`. */
export const unauthorizedOn = (nsp: keyof typeof REFUSAL_HINTS) => ({ message: 'unauthorized', data: { code: 'UNAUTHORIZED', hint: REFUSAL_HINTS[nsp] } });
