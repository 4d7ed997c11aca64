/**
 * The console's live connection: one Socket.IO manager (same origin), the `/chat` namespace for
 * everyone and `/monitor` for admins, multiplexed on one engine connection. `auth` is a function so
 * that each reconnect sends the highest id seen so far as `last_id` (PROTOCOL §5): the server
 * replays what was missed, and the state deduplicates by id, so nothing is missed or doubled.
 */
import { io, type Socket } from 'socket.io-client';
import type { Ack, Envelope, OutgoingEnvelope } from '../../shared/protocol';
import type { ConsoleState } from '../state/console-state';

export interface Live {
  send(envelope: OutgoingEnvelope): Promise<Ack>;
  close(): void;
}

export interface LiveOptions {
  token: string;
  state: ConsoleState;
  /** The handshake was refused as unauthorized: the token expired or was revoked. */
  onRevoked(): void;
  /** Every successful (re)connect of `/chat`; `first` on the first one. */
  onConnect(first: boolean): void;
}

/** How long a send waits for its ack before it is shown as failed (it can be retried safely). */
const ACK_TIMEOUT_MS = 10_000;

export function connectLive({ token, state, onRevoked, onConnect }: LiveOptions): Live {
  const auth = (cb: (data: object) => void) => cb(state.lastId ? { token, last_id: state.lastId } : { token });
  const chat = io('/chat', { auth });
  const monitor: Socket | undefined = state.isAdmin ? io('/monitor', { auth: { token } }) : undefined;
  let connectedOnce = false;
  let closed = false;

  const receive = (e: Envelope) => state.receive(e);
  chat.on('message', receive);
  // SYSTEM_LOG and PRESENCE reach /chat too; the monitor adds the Butler↔agent traffic.
  monitor?.on('message', (e: Envelope) => {
    if (e.type === 'BUTLER_AGENT_MESSAGE') receive(e);
  });

  chat.on('connect', () => {
    state.setConnection('online');
    onConnect(!connectedOnce);
    connectedOnce = true;
  });
  chat.on('disconnect', (reason) => {
    if (closed) return;
    state.setConnection('offline');
    // The server ended this socket on purpose (a revoked user, a restart, a drain): Socket.IO does
    // not come back by itself then, so ask again; a revoked token is refused at this handshake.
    if (reason === 'io server disconnect') chat.connect();
  });
  monitor?.on('disconnect', (reason) => {
    if (!closed && reason === 'io server disconnect') monitor.connect();
  });
  chat.on('connect_error', (err: Error & { data?: { code?: string } }) => {
    if (err.message === 'unauthorized' || err.data?.code === 'UNAUTHORIZED') {
      closed = true;
      chat.disconnect();
      monitor?.disconnect();
      onRevoked();
      return;
    }
    state.setConnection('offline');
  });

  return {
    async send(envelope) {
      if (!chat.connected) return { ok: false, error: 'Not connected: will not be sent until you retry.', code: 'UNAVAILABLE' };
      try {
        return (await chat.timeout(ACK_TIMEOUT_MS).emitWithAck('message', envelope)) as Ack;
      } catch {
        return { ok: false, error: 'No answer from the server (you can retry).', code: 'UNAVAILABLE' };
      }
    },
    close() {
      closed = true;
      chat.disconnect();
      monitor?.disconnect();
    },
  };
}
