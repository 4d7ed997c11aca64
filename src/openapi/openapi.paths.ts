import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { createAgentSchema, testConnectionSchema } from '../agents/agents.routes';
import { loginSchema, registerSchema } from '../auth/auth.routes';
import { decisionRequestSchema } from '../butler/authorization.routes';
import { authListQuerySchema } from '../butler/authorization.service';
import { conversationQuerySchema } from '../messages/chat-history.service';
import { systemLogInputSchema, systemLogQuerySchema } from '../messages/system-log.service';
import { ascendingPageSchema, createUserSchema } from '../users/users.schemas';
import { operation } from './openapi.operation';
import * as s from './openapi.schemas';

/** Any size renders the same schema (the byte limit is a refinement, MAX_PAYLOAD_BYTES); the document stays config-free. */
const DOCUMENTED_MAX_BYTES = 65536;

const list = (schema: z.ZodType) => z.array(schema);
const agentId = s.idParam('id', 'The agent id');
const userId = s.idParam('id', 'The user id');

/** Every REST route, with the request schemas its handler parses. */
export const paths: ZodOpenApiPathsObject = {
  '/api/ping': {
    get: operation({
      summary: 'Answers if the process is up',
      tag: 'health',
      access: 'public',
      ok: { status: 200, description: 'Up', schema: s.statusSchema },
    }),
  },
  '/healthz': {
    get: operation({
      summary: 'Liveness',
      tag: 'health',
      access: 'public',
      ok: { status: 200, description: 'Alive', schema: s.statusSchema },
    }),
  },
  '/readyz': {
    get: operation({
      summary: 'Readiness: the database (and Redis) answer and the replica is not draining',
      tag: 'health',
      access: 'public',
      ok: { status: 200, description: 'Ready', schema: s.statusSchema },
      errors: ['UNAVAILABLE'],
    }),
  },
  '/metrics': {
    get: operation({
      summary: 'Prometheus metrics',
      tag: 'health',
      access: 'public',
      ok: { status: 200, description: 'The text exposition format', schema: z.string(), type: 'text/plain' },
    }),
  },
  '/api/openapi.json': {
    get: operation({
      summary: 'This document',
      tag: 'health',
      access: 'public',
      ok: { status: 200, description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) },
    }),
  },

  '/api/auth/login': {
    post: operation({
      summary: 'Logs a human in',
      tag: 'auth',
      access: 'public',
      body: loginSchema,
      ok: { status: 200, description: 'A session', schema: s.sessionSchema },
      errors: ['INVALID_CREDENTIALS', 'RATE_LIMITED'],
    }),
  },
  '/api/auth/register': {
    post: operation({
      summary: 'Registers a MEMBER (when ALLOW_REGISTRATION)',
      tag: 'auth',
      access: 'public',
      body: registerSchema,
      ok: { status: 201, description: 'A session for the new member', schema: s.sessionSchema },
      errors: ['FORBIDDEN', 'CONFLICT'],
    }),
  },

  '/api/users': {
    get: operation({
      summary: 'Lists every user, ascending by id',
      tag: 'users',
      access: 'admin',
      query: ascendingPageSchema,
      ok: { status: 200, description: 'A page of users', schema: list(s.userSchema) },
    }),
    post: operation({
      summary: 'Creates an ADMIN or MEMBER',
      tag: 'users',
      access: 'admin',
      body: createUserSchema,
      ok: { status: 201, description: 'The new user', schema: s.createdUserSchema },
      errors: ['CONFLICT'],
    }),
  },
  '/api/users/{id}': {
    get: operation({
      summary: 'Reads a user (a MEMBER only themself)',
      tag: 'users',
      access: 'human',
      path: userId,
      ok: { status: 200, description: 'The user', schema: s.userSchema },
      errors: ['NOT_FOUND'],
    }),
    delete: operation({
      summary: 'Deletes a user (not the Butler, not the last admin)',
      tag: 'users',
      access: 'admin',
      path: userId,
      ok: { status: 204, description: 'Deleted' },
      errors: ['NOT_FOUND', 'CONFLICT'],
    }),
  },
  '/api/users/agents': {
    get: operation({
      summary: 'Lists the agents and the Butler',
      tag: 'agents',
      access: 'human',
      query: ascendingPageSchema,
      ok: { status: 200, description: 'A page of agents', schema: list(s.agentSchema) },
    }),
    post: operation({
      summary: 'Creates an agent and its API token',
      tag: 'agents',
      access: 'admin',
      body: createAgentSchema,
      ok: { status: 201, description: 'The agent and its token, shown once', schema: s.issuedTokenSchema },
      errors: ['CONFLICT'],
    }),
  },
  '/api/users/agents/status': {
    get: operation({
      summary: 'Lists the agents (without the Butler) with their presence and status',
      tag: 'agents',
      access: 'human',
      query: ascendingPageSchema,
      ok: { status: 200, description: 'A page of agents', schema: list(s.agentSchema) },
    }),
  },
  '/api/users/agents/test-connection': {
    post: operation({
      summary: 'Tells whether an API token belongs to an agent',
      tag: 'agents',
      access: 'admin',
      body: testConnectionSchema,
      ok: { status: 200, description: 'Valid or not', schema: s.testConnectionResultSchema },
    }),
  },
  '/api/users/agents/{id}/token': {
    patch: operation({
      summary: "Rotates an agent's API token (the old one stops at once)",
      tag: 'agents',
      access: 'admin',
      path: agentId,
      ok: { status: 200, description: 'The new token, shown once', schema: s.issuedTokenSchema },
      errors: ['NOT_FOUND'],
    }),
  },
  '/api/users/agents/{id}': {
    delete: operation({
      summary: 'Deletes an agent',
      tag: 'agents',
      access: 'admin',
      path: agentId,
      ok: { status: 204, description: 'Deleted' },
      errors: ['NOT_FOUND', 'CONFLICT'],
    }),
  },
  '/api/users/butler': {
    get: operation({
      summary: 'Reads the Butler',
      tag: 'agents',
      access: 'human',
      ok: { status: 200, description: 'The Butler', schema: s.agentSchema },
    }),
  },

  '/api/messages': {
    get: operation({
      summary: 'Reads the system log, newest first',
      tag: 'messages',
      access: 'human',
      query: systemLogQuerySchema,
      ok: { status: 200, description: 'Entries', schema: list(s.systemLogEntrySchema) },
    }),
    post: operation({
      summary: 'Writes a system-log entry (pushed live to /monitor)',
      tag: 'messages',
      access: 'adminOrAgent',
      body: systemLogInputSchema(DOCUMENTED_MAX_BYTES),
      ok: { status: 201, description: 'The stored entry', schema: s.systemLogEntrySchema },
    }),
  },
  '/api/chat/history/{peer_id}': {
    get: operation({
      summary: 'The conversation between the caller and a peer, ascending by id',
      tag: 'messages',
      access: 'human',
      path: s.idParam('peer_id', 'The other user'),
      query: conversationQuerySchema,
      ok: { status: 200, description: 'Envelopes', schema: list(s.envelopeSchema) },
      errors: ['NOT_FOUND'],
    }),
  },
  '/api/chat/butler-agent/{agent_id}': {
    get: operation({
      summary: 'The conversation between the Butler and an agent',
      tag: 'messages',
      access: 'admin',
      path: s.idParam('agent_id', 'The agent'),
      query: conversationQuerySchema,
      ok: { status: 200, description: 'Envelopes', schema: list(s.envelopeSchema) },
      errors: ['NOT_FOUND'],
    }),
  },

  '/api/chat/auth/requests': {
    get: operation({
      summary: "Lists authorization requests (a MEMBER sees the ones they caused), newest first",
      tag: 'authorizations',
      access: 'human',
      query: authListQuerySchema,
      ok: { status: 200, description: 'Requests', schema: list(s.authRequestSchema) },
    }),
  },
  '/api/chat/auth/response': {
    post: operation({
      summary: 'Approves or rejects an authorization request',
      tag: 'authorizations',
      access: 'admin',
      body: decisionRequestSchema,
      ok: { status: 200, description: 'The new status', schema: s.decisionSchema },
      errors: ['NOT_FOUND', 'CONFLICT'],
    }),
  },
};
