import { io, type Socket } from 'socket.io-client';
import type { Ack, Envelope, OutgoingEnvelope } from '../../src/shared/protocol';

export type Namespace = 'chat' | 'agents' | 'monitor';

/** A socket.io-client socket that records every `message` it receives. */
export interface Client {
  socket: Socket;
  received: Envelope[];
  send(envelope: OutgoingEnvelope | unknown): Promise<Ack>;
  /** Resolves with the first received envelope (past or future) that matches. */
  waitFor(match: (e: Envelope) => boolean, timeoutMs?: number): Promise<Envelope>;
  close(): void;
}

const open: Socket[] = [];

/** Opens a socket and resolves once connected (rejects with the connect_error). */
export function connect(url: string, nsp: Namespace, auth: Record<string, unknown> = {}, opts: { reconnection?: boolean } = {}): Promise<Client> {
  const socket = io(`${url}/${nsp}`, {
    auth,
    transports: ['websocket'],
    reconnection: opts.reconnection ?? false,
    forceNew: true,
  });
  open.push(socket);
  const received: Envelope[] = [];
  const waiters: { match: (e: Envelope) => boolean; resolve: (e: Envelope) => void }[] = [];
  socket.on('message', (e: Envelope) => {
    received.push(e);
    for (const w of [...waiters]) {
      if (w.match(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  const client: Client = {
    socket,
    received,
    send: (envelope) => socket.timeout(10_000).emitWithAck('message', envelope),
    waitFor: (match, timeoutMs = 5_000) => {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a message')), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    close: () => socket.disconnect(),
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(err);
    });
  });
}

/** Disconnects every socket a test opened (call in afterEach/afterAll so Jest can exit). */
export function closeAllSockets(): void {
  for (const s of open.splice(0)) s.disconnect();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits a little and asserts that nothing matching arrived (for "must not receive" checks). */
export async function expectNothing(client: Client, match: (e: Envelope) => boolean, ms = 300): Promise<void> {
  await sleep(ms);
  const got = client.received.filter(match);
  if (got.length) throw new Error(`unexpected message(s): ${JSON.stringify(got)}`);
}
