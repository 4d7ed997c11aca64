import { randomBytes } from 'node:crypto';
import { DIRECTIVE_PREFIX, ERROR_PREFIX, type Envelope, type OutgoingEnvelope } from '../shared/protocol';
import type { OkAck } from './send-queue';

/** A handler that throws answers `[ERROR] <message>`: the Butler fails the action with that text. */
export { ERROR_PREFIX };

/** An approved action, as the Butler sent it (PROTOCOL §6). */
export interface Directive {
  /** The action id (the directive's `local_id`). */
  actionId: string;
  /** What to do: the text after `[DIRECTIVE] `. */
  command: string;
  /** The directive's message id; the answer's `reply_to`. */
  messageId: number;
  /** The Butler's user id. */
  butlerId: number;
  envelope: Envelope;
}

/** What a directive handler can do besides returning its answer. */
export interface DirectiveContext {
  /**
   * Streams a chunk of the answer (CHAT_STREAM). Chunks are a preview and are not stored or resent; the
   * answer is the handler's return value, or when it returns nothing, the chunks joined.
   */
  write(chunk: string): void;
}

/** Returns the answer (a string, or anything JSON-able, sent as its JSON text); a throw fails the action. */
export type DirectiveHandler = (directive: Directive, context: DirectiveContext) => unknown;

/** The directive in an envelope, or undefined when it is not one. */
export function asDirective(e: Envelope): Directive | undefined {
  if (e.type !== 'CHAT' || e.sender_role !== 'BUTLER' || e.id === undefined || !e.local_id) return undefined;
  if (typeof e.payload !== 'string' || !e.payload.startsWith(DIRECTIVE_PREFIX)) return undefined;
  return { actionId: e.local_id, command: e.payload.slice(DIRECTIVE_PREFIX.length), messageId: e.id, butlerId: e.sender_id, envelope: e };
}

/** What running a directive needs from the client. */
export interface DirectivePorts {
  /** A reliable send (retried until acked). */
  send(envelope: OutgoingEnvelope): Promise<OkAck>;
  /** A best-effort send (stream chunks): dropped while disconnected. */
  sendNow(envelope: OutgoingEnvelope): void;
}

/**
 * Runs one directive and sends its answer: a CHAT to the Butler with `reply_to` = the directive's id
 * and a `local_id` derived from the action id, so that even a second process answering the same
 * directive stores one answer. When the handler streamed, the answer carries the stream's id and a
 * CHAT_STREAM_END follows it, whatever happened. Resolves once the answer is acknowledged.
 */
export async function runDirective(d: Directive, handler: DirectiveHandler, ports: DirectivePorts): Promise<OkAck> {
  let streamId: string | undefined;
  const chunks: string[] = [];
  const route = { target_id: d.butlerId, reply_to: d.messageId };
  const context: DirectiveContext = {
    write(chunk: string) {
      if (!chunk) return;
      streamId ??= `s_${randomBytes(9).toString('base64url')}`;
      chunks.push(chunk);
      ports.sendNow({ type: 'CHAT_STREAM', ...route, stream_id: streamId, payload: chunk });
    },
  };
  let text: string;
  try {
    const value = await handler(d, context);
    text = answerText(value, chunks);
  } catch (err) {
    text = ERROR_PREFIX + (err instanceof Error ? err.message : String(err));
  }
  const answered = ports.send({ type: 'CHAT', ...route, payload: text, local_id: `ans_${d.actionId}`.slice(0, 64), ...(streamId ? { stream_id: streamId } : {}) });
  if (streamId) {
    // Queued right behind the answer, so it goes out even when the answer is refused.
    ports.send({ type: 'CHAT_STREAM_END', ...route, stream_id: streamId, payload: null }).catch(() => undefined);
  }
  return answered;
}

function answerText(value: unknown, chunks: string[]): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return chunks.length ? chunks.join('') : 'done';
  return JSON.stringify(value);
}
