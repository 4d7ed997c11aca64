/**
 * The agent SDK (`import { connectAgent } from 'echocenter/agent'`): a typed client for `/agents`
 * that resumes from a cursor, answers directives and retries sends until they are acknowledged.
 */
export { AgentClient, connectAgent } from './agent-client';
export type { AgentEvents, AgentOptions, ConnectionState, LogLevel, TokenSource } from './agent-client';
export type { MessageHandler } from './inbox';
export { AgentAuthError, AgentClosedError, AgentError, AgentSendError } from './agent-errors';
export { Backoff } from './backoff';
export type { BackoffOptions } from './backoff';
export { FileCursorStore, MAX_ANSWERED, MemoryCursorStore } from './cursor-store';
export type { AgentCursor, CursorStore } from './cursor-store';
export { ERROR_PREFIX } from './directives';
export type { Directive, DirectiveContext, DirectiveHandler } from './directives';
export type { OkAck } from './send-queue';
export type { Ack, Envelope, MessageType, OutgoingEnvelope } from '../shared/protocol';
