import { z } from 'zod';
import { rejectionReasonSchema } from '../butler/authorization.service';
import { AppError, forbidden, validationError } from '../shared/errors';
import { describeIssues } from '../shared/paging';
import { MESSAGE_TYPES, type MessageType } from '../shared/protocol';
import { LOG_LEVELS } from '../messages/system-log.entity';
import type { Role } from '../users/user.entity';

const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const MAX_MESSAGE_ID = 2_147_483_647;
const LOCAL_ID_MAX = 64;
const STREAM_ID_MAX = 128;
/**
 * A stored message's id: PostgreSQL keeps ids (and `reply_to`) in a 32-bit `integer`, so a larger value
 * names no message and would make the whole group commit fail for every sender in it.
 */
const messageId = z.number().int().positive().max(MAX_MESSAGE_ID, 'reply_to must be a message id');

/**
 * Strings that are stored as they are (not inside the payload's JSON text) must be text a database keeps
 * unchanged: no NUL (SQLite ends the statement there, PostgreSQL refuses it, and in a group commit that
 * failure refused every other sender's message in the group) and no lone UTF-16 surrogate (stored as
 * U+FFFD, so a resent `local_id` would come back different).
 */
const isStorable = (v: string) => !v.includes('\u0000') && !/\p{Cs}/u.test(v);
const storable = (field: string) => [isStorable, `${field} must be text without NUL characters or lone surrogates`] as const;

/** What a client may put in an envelope; server-set fields (`id`, `sender_*`, `timestamp`) are dropped. */
export const envelopeSchema = z.object({
  type: z.enum(MESSAGE_TYPES, { error: 'type is missing or unknown' }),
  target_id: z
    .union([z.literal(0), id, z.null()], { error: 'target_id must be a positive integer, or 0/null for a broadcast' })
    .optional(),
  payload: z.unknown().optional(),
  local_id: z.string().min(1, 'local_id must not be empty').max(LOCAL_ID_MAX, `local_id must be at most ${LOCAL_ID_MAX} characters`).refine(...storable('local_id')).nullish(),
  stream_id: z.string().min(1, 'stream_id must not be empty').max(STREAM_ID_MAX, `stream_id must be at most ${STREAM_ID_MAX} characters`).refine(...storable('stream_id')).nullish(),
  reply_to: messageId.nullish(),
});

export type IncomingEnvelope = z.infer<typeof envelopeSchema>;

export const systemLogPayloadSchema = z.object({
  level: z.enum(LOG_LEVELS, { error: `level must be one of ${LOG_LEVELS.join(', ')}` }),
  content: z.string({ error: 'content is required' }).min(1, 'content must not be empty').refine(...storable('content')),
});

export const agentStatusPayloadSchema = z.object({
  status: z.string({ error: 'status is required' }).min(1, 'status must not be empty').max(32, 'status must be at most 32 characters').refine(...storable('status')),
  report: z.string().max(1000, 'report must be at most 1000 characters').refine(...storable('report')).nullish(),
});

export const authResponsePayloadSchema = z.object({
  action_id: z.string({ error: 'action_id is required' }).min(1).max(64).refine(...storable('action_id')),
  approved: z.boolean({ error: 'approved must be true or false' }),
  reason: rejectionReasonSchema,
});

/** Which types each role may send (PROTOCOL §3.2). `/monitor` sockets send nothing. */
const ALLOWED: Record<Role, readonly MessageType[]> = {
  ADMIN: ['CHAT', 'AUTH_RESPONSE'],
  MEMBER: ['CHAT', 'AUTH_RESPONSE'],
  AGENT: ['CHAT', 'CHAT_STREAM', 'CHAT_STREAM_END', 'SYSTEM_LOG', 'AGENT_STATUS'],
  BUTLER: [],
};

/** A validated envelope, with its payload's JSON text (what is stored). */
export class ParsedEnvelope {
  constructor(
    readonly envelope: IncomingEnvelope,
    readonly payloadJson: string,
  ) {}
}

/**
 * Validates a raw `message` frame for a sender: shape, type permission, payload size and the
 * per-type payload rules. Throws the AppError that goes into the ack.
 */
export function parseEnvelope(raw: unknown, role: Role, maxPayloadBytes: number): ParsedEnvelope {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw validationError('A message must be an envelope object');
  let envelope = wellFormed(raw as Record<string, unknown>);
  if (!envelope) {
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) throw validationError(describeIssues(parsed.error));
    envelope = parsed.data;
  }
  if (!ALLOWED[role].includes(envelope.type)) throw forbidden(`${role} may not send ${envelope.type}`);

  const payloadJson = safeJson(envelope.payload);
  if (Buffer.byteLength(payloadJson, 'utf8') > maxPayloadBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `payload is larger than ${maxPayloadBytes} bytes`);
  }
  switch (envelope.type) {
    case 'CHAT':
      if (envelope.payload === undefined) throw validationError('payload is required');
      break;
    case 'CHAT_STREAM':
    case 'CHAT_STREAM_END':
      if (!envelope.stream_id) throw validationError('stream_id is required');
      break;
    case 'SYSTEM_LOG':
      check(systemLogPayloadSchema, envelope.payload);
      break;
    case 'AGENT_STATUS':
      check(agentStatusPayloadSchema, envelope.payload);
      break;
    case 'AUTH_RESPONSE':
      // The decision is not stored as a message: the handler reads the parsed payload (reason trimmed).
      envelope = { ...envelope, payload: check(authResponsePayloadSchema, envelope.payload) };
      break;
  }
  return new ParsedEnvelope(envelope, payloadJson);
}

const KNOWN_TYPES: ReadonlySet<unknown> = new Set(MESSAGE_TYPES);
const absent = (v: unknown) => v === undefined || v === null;
const text = (v: unknown, max: number) => absent(v) || (typeof v === 'string' && v.length >= 1 && v.length <= max && isStorable(v));

/**
 * The envelope `envelopeSchema` would return, when the frame is plainly valid: the same rules,
 * checked by hand, because almost every frame is valid and the schema's parse (a new object, its
 * checks, their results) was a tenth of what a message allocated. Anything it does not accept
 * (`undefined`) goes through the schema, which also words the refusal. `test/realtime/envelope-schema.test.ts`
 * holds the two to the same answers.
 */
export function wellFormed(raw: Record<string, unknown>): IncomingEnvelope | undefined {
  const { type, target_id, payload, local_id, stream_id, reply_to } = raw;
  if (!KNOWN_TYPES.has(type)) return undefined;
  if (!(absent(target_id) || target_id === 0 || (Number.isSafeInteger(target_id) && (target_id as number) > 0))) return undefined;
  if (!text(local_id, LOCAL_ID_MAX) || !text(stream_id, STREAM_ID_MAX)) return undefined;
  if (!(absent(reply_to) || (Number.isInteger(reply_to) && (reply_to as number) > 0 && (reply_to as number) <= MAX_MESSAGE_ID))) return undefined;
  const envelope: Record<string, unknown> = { type };
  if (target_id !== undefined) envelope.target_id = target_id;
  if (payload !== undefined) envelope.payload = payload;
  if (local_id !== undefined) envelope.local_id = local_id;
  if (stream_id !== undefined) envelope.stream_id = stream_id;
  if (reply_to !== undefined) envelope.reply_to = reply_to;
  return envelope as IncomingEnvelope;
}

function check<T>(schema: z.ZodType<T>, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (!r.success) throw validationError(`payload: ${describeIssues(r.error)}`);
  return r.data;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value ?? null);
  } catch {
    throw validationError('payload is not serializable JSON');
  }
}
