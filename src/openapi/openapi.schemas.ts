import { z } from 'zod';
import { AUTH_STATUSES } from '../butler/auth-request.entity';
import { LOG_LEVELS } from '../messages/system-log.entity';
import { ERROR_CODES } from '../shared/errors';
import { MESSAGE_TYPES, ROLES } from '../shared/protocol';

/**
 * The response bodies of the REST API as zod schemas, for the OpenAPI document only: the routes build
 * these objects in code (user.view.ts, authorization.service.ts, envelope.ts…) and never parse them.
 * They are strict objects, so test/rest/openapi.test.ts can parse live responses with them and fail on
 * a field that one side has and the other has not.
 */

const iso = z.iso.datetime({ offset: false }).meta({ description: 'UTC ISO-8601 with milliseconds', example: '2026-01-02T03:04:05.678Z' });
const id = z.number().int().positive();

export const errorSchema = z
  .strictObject({
    error: z.string().meta({ description: 'What is wrong, for a person to read' }),
    code: z.enum(ERROR_CODES).meta({ description: 'The catalogue code (src/shared/errors.ts); clients branch on this, not on `error`' }),
  })
  .meta({ id: 'Error', description: 'Every error, from every route: `{error, code}`' });

const humanFields = {
  id,
  username: z.string(),
  role: z.enum(ROLES),
  created_at: iso,
};

export const humanSchema = z.strictObject(humanFields).meta({ id: 'Human', description: 'An ADMIN or MEMBER' });

export const agentSchema = z
  .strictObject({
    ...humanFields,
    description: z.string().nullable(),
    status: z.string().nullable().meta({ description: 'The last AGENT_STATUS the agent sent' }),
    online: z.boolean(),
    last_seen_at: iso.nullable(),
    last_report: z.string().nullable(),
    token_hint: z.string().nullable().meta({ description: 'The last characters of the current API token, never the token' }),
    token_updated_at: iso.nullable(),
    mode: z.enum(['llm', 'rules']).optional().meta({ description: 'The Butler only: how it decides' }),
  })
  .meta({ id: 'Agent', description: 'An AGENT or the BUTLER, with presence and the token hint' });

export const userSchema = z.union([agentSchema, humanSchema]).meta({ id: 'User', description: 'The user object (PROTOCOL §1)' });

export const sessionSchema = z
  .strictObject({ token: z.string().meta({ description: 'A login JWT: `Authorization: Bearer <token>`, and `auth.token` on /chat and /monitor' }), user: userSchema })
  .meta({ id: 'Session' });

export const createdUserSchema = z.strictObject({ user: userSchema }).meta({ id: 'CreatedUser' });

export const issuedTokenSchema = z
  .strictObject({
    agent: agentSchema,
    api_token: z.string().meta({ description: 'Shown once, here; the server keeps only its hash' }),
  })
  .meta({ id: 'IssuedAgentToken' });

export const testConnectionResultSchema = z
  .union([
    z.strictObject({ valid: z.literal(true), agent_id: id, username: z.string() }),
    z.strictObject({ valid: z.literal(false) }),
  ])
  .meta({ id: 'TestConnectionResult' });

export const systemLogEntrySchema = z
  .strictObject({
    id,
    agent_id: id.nullable(),
    agent_name: z.string(),
    level: z.enum(LOG_LEVELS),
    content: z.string(),
    timestamp: iso,
  })
  .meta({ id: 'SystemLogEntry' });

export const envelopeSchema = z
  .strictObject({
    id: id.optional().meta({ description: 'The message-log id (CHAT, AUTH_REQUEST, AUTH_STATUS_UPDATE)' }),
    local_id: z.string().nullable().optional(),
    type: z.enum(MESSAGE_TYPES),
    sender_id: z.number().int(),
    sender_name: z.string(),
    sender_role: z.enum([...ROLES, 'SYSTEM']),
    target_id: id.nullable().meta({ description: 'null: a broadcast' }),
    payload: z.unknown(),
    timestamp: iso,
    stream_id: z.string().nullable().optional(),
    reply_to: id.nullable().optional(),
  })
  .meta({ id: 'Envelope', description: 'A stored message, as the socket `message` event carries it (PROTOCOL §3)' });

export const authRequestSchema = z
  .strictObject({
    id,
    action_id: z.string(),
    target_agent_id: id,
    target_agent_name: z.string(),
    command: z.string(),
    reason: z.string(),
    status: z.enum(AUTH_STATUSES),
    requested_by: id,
    decided_by: id.nullable(),
    decided_at: iso.nullable(),
    expires_at: iso,
    created_at: iso,
    result: z.string().nullable(),
  })
  .meta({ id: 'AuthorizationRequest', description: 'An action the Butler asked an admin to approve (PROTOCOL §6)' });

export const decisionSchema = z.strictObject({ action_id: z.string(), status: z.enum(AUTH_STATUSES) }).meta({ id: 'Decision' });

export const statusSchema = z.strictObject({ status: z.enum(['ok', 'ready']) }).meta({ id: 'Status' });

/** A path id; anything that is not a positive integer answers 404 like an unknown id. */
export const idParam = (name: string, description: string) => z.object({ [name]: id.meta({ description }) });
