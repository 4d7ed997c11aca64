import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type { Envelope, OutgoingEnvelope, ReplayDone } from '../shared/protocol';
import { AgentAuthError, AgentClosedError, AgentError } from './agent-errors';
import { Backoff, type BackoffOptions } from './backoff';
import { CursorKeeper } from './cursor-keeper';
import { FileCursorStore, type CursorStore } from './cursor-store';
import type { DirectiveHandler } from './directives';
import { Inbox, type MessageHandler } from './inbox';
import { SendQueue, type OkAck } from './send-queue';

/** A token, or a function asked for one before every (re)connect (so a rotated token can be supplied). */
export type TokenSource = string | (() => string | Promise<string>);

export interface AgentOptions {
  /** The server's base URL, e.g. `http://localhost:8080` (the client adds `/agents`). */
  url: string;
  /** The agent's API token. */
  token: TokenSource;
  /** Where the cursor lives: a store, or a file path (default `./echocenter-cursor.json`). */
  cursor?: CursorStore | string;
  /** Reconnection delays (defaults: 500 ms doubling to 30 s, half of each random). */
  backoff?: BackoffOptions;
  /** How long a send waits for its ack before it is sent again (default 10 s). */
  ackTimeoutMs?: number;
  /** Socket.IO transports (default: websocket only; add `polling` behind proxies that need it). */
  transports?: ('websocket' | 'polling')[];
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'SUCCESS';

/** The events of an AgentClient and their arguments. */
export interface AgentEvents {
  connecting: [{ attempt: number }];
  connected: [];
  /** The replay (when the handshake asked for one) is over: live traffic follows. */
  replayed: [{ lastId: number }];
  disconnected: [{ reason: string; retryInMs: number }];
  /** For good: by `close()` (no error) or a refused credential (an AgentAuthError). */
  closed: [{ error?: AgentError }];
  /** Something went wrong that the client survives (a cursor save, a message handler that threw). */
  warning: [unknown];
}

/**
 * An agent's connection to `/agents` (PROTOCOL §3, §5, §6). Reconnects by itself, resumes from its
 * cursor, hands every message to the program once, and answers directives through `onDirective`.
 * Create it with `connectAgent`.
 */
export class AgentClient extends EventEmitter<AgentEvents> {
  private readonly socket: Socket;
  private readonly backoff: Backoff;
  private readonly sends: SendQueue;
  private readonly cursor: CursorKeeper;
  private readonly inbox: Inbox;
  private currentToken = '';
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private replayedOnce = false;
  private replayAsked = false;
  private _state: ConnectionState = 'connecting';
  private _error: AgentError | undefined;
  private readonly started: Promise<void>;

  constructor(private readonly options: AgentOptions) {
    super();
    this.backoff = new Backoff(options.backoff);
    // Its own backoff: a refused send must not lengthen the wait before the next reconnect.
    const sendBackoff = new Backoff({ ...options.backoff, maxMs: Math.min(options.backoff?.maxMs ?? 5_000, 5_000) });
    this.sends = new SendQueue({ ackTimeoutMs: options.ackTimeoutMs ?? 10_000, retryDelayMs: () => sendBackoff.next() });
    const store = typeof options.cursor === 'object' ? options.cursor : new FileCursorStore(options.cursor ?? 'echocenter-cursor.json');
    this.cursor = new CursorKeeper(store, (err) => this.emit('warning', err));
    this.inbox = new Inbox(this.cursor, {
      send: (env) => this.send(env),
      sendNow: (env) => this.sendNow(env),
      warn: (err) => this.emit('warning', err),
      closed: () => this._state === 'closed',
    });
    this.socket = io(`${options.url.replace(/\/+$/, '')}/agents`, {
      autoConnect: false,
      // Reconnection is ours: Socket.IO does not retry after a server-side disconnect or a refused handshake.
      reconnection: false,
      forceNew: true,
      transports: options.transports ?? ['websocket'],
      // Called at every connect: the current token, and the cursor as it is at that moment.
      auth: (cb) => {
        const lastId = this.cursor.replayFrom;
        this.replayAsked = lastId !== undefined;
        cb(lastId !== undefined ? { token: this.currentToken, last_id: lastId } : { token: this.currentToken });
      },
    });
    this.wire();
    this.started = this.start();
  }

  /** `connecting` until the first handshake, then `connected` / `disconnected`, and `closed` at the end. */
  get state(): ConnectionState {
    return this._state;
  }

  /** Why the client closed, when it was not `close()`. */
  get error(): AgentError | undefined {
    return this._error;
  }

  /** The agent's user id, once a message addressed to it has shown it. */
  get agentId(): number | undefined {
    return this.cursor.agentId;
  }

  /** The highest message id handled. */
  get lastId(): number {
    return this.cursor.lastId;
  }

  /** Handles directives: the return value (or the thrown error) becomes the answer. One at a time, in order. */
  onDirective(handler: DirectiveHandler): this {
    this.inbox.onDirective(handler);
    return this;
  }

  /** Every message other than a directive (chats from people, broadcasts), once, in order. */
  onMessage(handler: MessageHandler): this {
    this.inbox.onMessage(handler);
    return this;
  }

  /** Resolves after the first handshake's replay; rejects when the client closes before that. */
  ready(): Promise<void> {
    if (this._state === 'closed') return Promise.reject(this._error ?? new AgentClosedError());
    if (this.replayedOnce) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onReplayed = () => (this.off('closed', onClosed), resolve());
      const onClosed = ({ error }: { error?: AgentError }) => (this.off('replayed', onReplayed), reject(error ?? new AgentClosedError()));
      this.once('replayed', onReplayed);
      this.once('closed', onClosed);
    });
  }

  /** A CHAT to a person (or another agent). Resolves with the stored message's id once acknowledged. */
  chat(targetId: number, text: unknown, options: { replyTo?: number } = {}): Promise<OkAck> {
    return this.send({ type: 'CHAT', target_id: targetId, payload: text, ...(options.replyTo ? { reply_to: options.replyTo } : {}) });
  }

  /** An AGENT_STATUS report (`status` ≤ 32 characters, `report` ≤ 1000), shown to people as PRESENCE. */
  async status(status: string, report?: string): Promise<void> {
    await this.send({ type: 'AGENT_STATUS', payload: report === undefined ? { status } : { status, report } });
  }

  /** A SYSTEM_LOG entry, shown to people in the system log. */
  async log(level: LogLevel, content: string): Promise<void> {
    await this.send({ type: 'SYSTEM_LOG', payload: { level, content } });
  }

  /**
   * Sends an envelope, retried until acknowledged (also across reconnects), with a generated
   * `local_id` unless it has one. Rejects with an AgentSendError when the server refuses it.
   */
  send(envelope: OutgoingEnvelope): Promise<OkAck> {
    if (this._state === 'closed') return Promise.reject(this._error ?? new AgentClosedError());
    return this.sends.send({ ...envelope, local_id: envelope.local_id ?? `ec_${randomBytes(12).toString('base64url')}` });
  }

  /**
   * Stops: lets the running directive finish and answer, waits for pending sends (up to
   * `timeoutMs`, default 10 s; later ones are rejected with AgentClosedError), saves the cursor,
   * then disconnects.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing) {
      await this.waitClosed();
      return;
    }
    this.closing = true;
    await this.started.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs ?? 10_000)));
    const drained = (async () => {
      await this.inbox.idle();
      await this.sends.idle();
    })();
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    await this.finish();
  }

  /** Resolves when the client has closed, with the error that closed it, if any. */
  waitClosed(): Promise<AgentError | undefined> {
    if (this._state === 'closed') return Promise.resolve(this._error);
    return new Promise((resolve) => this.once('closed', ({ error }) => resolve(error)));
  }

  private async start(): Promise<void> {
    try {
      await this.cursor.load();
    } catch (err) {
      // A cursor that cannot be read must not be replaced by an empty one (that replays nothing and
      // could lose track of answered directives): stop and say why.
      this.emit('warning', err);
      this.stop(new AgentError('INTERNAL_ERROR', `cannot read the cursor: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    await this.attempt();
  }

  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    if (this._state === 'closed') return;
    this.setState('connecting');
    this.emit('connecting', { attempt: this.backoff.attempts + 1 });
    try {
      const { token } = this.options;
      this.currentToken = typeof token === 'function' ? await token() : token;
    } catch (err) {
      this.emit('warning', err);
      return this.retry('token source failed');
    }
    // close() may have run while the token was being fetched.
    if ((this._state as ConnectionState) === 'closed') return;
    this.socket.connect();
  }

  private retry(reason: string): void {
    if (this._state === 'closed' || this.retryTimer) return;
    const delay = this.backoff.next();
    this.setState('disconnected');
    this.emit('disconnected', { reason, retryInMs: delay });
    this.retryTimer = setTimeout(() => void this.attempt(), delay);
  }

  private wire(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.setState('connected');
      this.emit('connected');
      this.sends.attach(s);
      if (!this.replayAsked) this.replayed(this.cursor.lastId);
    });
    s.on('replay:done', (done: ReplayDone) => this.replayed(done?.last_id ?? this.cursor.lastId));
    s.on('message', (e: Envelope) => this.inbox.receive(e));
    s.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      const code = err.data?.code;
      if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') return this.stop(new AgentAuthError(code, `the server refused the agent's token (${err.message})`));
      this.retry(code ? `${err.message} (${code})` : err.message);
    });
    s.on('disconnect', (reason) => {
      this.sends.detach();
      if (reason === 'io client disconnect') return;
      this.retry(reason);
    });
  }

  private replayed(lastId: number): void {
    this.backoff.reset();
    this.replayedOnce = true;
    this.emit('replayed', { lastId });
  }

  private sendNow(envelope: OutgoingEnvelope): void {
    if (this.socket.connected) this.socket.emit('message', envelope, () => undefined);
  }

  private stop(error: AgentError): void {
    this._error = error;
    void this.finish();
  }

  private async finish(): Promise<void> {
    if (this._state === 'closed') return;
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.setState('closed');
    this.sends.failAll(this._error ?? new AgentClosedError());
    this.socket.disconnect();
    await this.cursor.flush();
    this.emit('closed', this._error ? { error: this._error } : {});
  }

  private setState(state: ConnectionState): void {
    this._state = state;
  }
}

/** Connects an agent (in the background) and returns its client. */
export function connectAgent(options: AgentOptions): AgentClient {
  return new AgentClient(options);
}
