import type { Socket } from 'socket.io-client';
import type { ErrorCode } from '../shared/errors';
import type { Ack, OutgoingEnvelope } from '../shared/protocol';
import { AgentSendError } from './agent-errors';

export type OkAck = Extract<Ack, { ok: true }>;

/** Refusals that say "not now" rather than "never" (PROTOCOL §3.1): the send is tried again. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAVAILABLE', 'INTERNAL_ERROR', 'RATE_LIMITED']);

interface Pending {
  envelope: OutgoingEnvelope;
  resolve: (ack: OkAck) => void;
  reject: (err: Error) => void;
  /** Bumped at every emit: an ack that belongs to an older emit is ignored. */
  attempt: number;
  inFlight: boolean;
}

export interface SendQueueOptions {
  /** How long an ack may take before the send is tried again (default 10 s). */
  ackTimeoutMs: number;
  /** The pause before retrying after a transient refusal. */
  retryDelayMs: () => number;
}

/**
 * Sends that are retried until the server acks them. Every stored type carries a `local_id`, so a
 * resend after a lost ack is stored once (PROTOCOL §3.4). Nothing is handed to socket.io-client while
 * disconnected: its own buffer would send the message again on top of our resend.
 */
export class SendQueue {
  private readonly pending: Pending[] = [];
  private socket: Socket | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: SendQueueOptions) {}

  get size(): number {
    return this.pending.length;
  }

  /** The socket is connected: send everything that waits, in order. */
  attach(socket: Socket): void {
    this.socket = socket;
    for (const p of this.pending) if (!p.inFlight) this.emit(p);
  }

  /** The socket is gone: whatever was in flight is sent again after the next `attach`. */
  detach(): void {
    this.socket = undefined;
    for (const p of this.pending) p.inFlight = false;
  }

  /** Queues an envelope; resolves with its ok ack, rejects with an AgentSendError for a refusal. */
  send(envelope: OutgoingEnvelope): Promise<OkAck> {
    return new Promise((resolve, reject) => {
      const p: Pending = { envelope, resolve, reject, attempt: 0, inFlight: false };
      this.pending.push(p);
      this.emit(p);
    });
  }

  /** Resolves when nothing is pending any more. */
  idle(): Promise<void> {
    if (!this.pending.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rejects every pending send (the client closed) and stops retrying. */
  failAll(err: Error): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.pending.splice(0)) p.reject(err);
    this.settled();
  }

  private emit(p: Pending): void {
    const socket = this.socket;
    if (!socket?.connected) return;
    const attempt = ++p.attempt;
    p.inFlight = true;
    socket.timeout(this.options.ackTimeoutMs).emit('message', p.envelope, (err: Error | null, ack: Ack) => {
      if (attempt !== p.attempt || !this.pending.includes(p)) return;
      p.inFlight = false;
      // No ack in time, or the socket dropped: the next connect resends it (or retry on this one).
      if (err) return this.retryLater(p, 0);
      if (ack?.ok) return this.done(p, () => p.resolve(ack));
      if (ack && TRANSIENT.has(ack.code)) return this.retryLater(p, this.options.retryDelayMs());
      this.done(p, () => p.reject(new AgentSendError(ack ?? { ok: false, error: 'malformed ack', code: 'INTERNAL_ERROR' })));
    });
  }

  private retryLater(p: Pending, delayMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.pending.includes(p) && !p.inFlight) this.emit(p);
    }, delayMs);
    this.timers.add(t);
  }

  private done(p: Pending, settle: () => void): void {
    this.pending.splice(this.pending.indexOf(p), 1);
    settle();
    this.settled();
  }

  private settled(): void {
    if (this.pending.length) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
