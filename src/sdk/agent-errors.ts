import type { ErrorCode } from '../shared/errors';
import type { Ack } from '../shared/protocol';

/** Every error the SDK raises: `code` is the protocol's code (PROTOCOL §2), or `CLOSED`. */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode | 'CLOSED',
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The server refused the agent's credential (a rotated or deleted token, or not an agent token).
 * Retrying cannot help, so the client stops and closes with this error.
 */
export class AgentAuthError extends AgentError {
  constructor(code: 'UNAUTHORIZED' | 'FORBIDDEN', message: string) {
    super(code, message);
  }
}

/** The server refused a message for good (its ack said why); it was not stored. */
export class AgentSendError extends AgentError {
  constructor(readonly ack: Extract<Ack, { ok: false }>) {
    super(ack.code, ack.error);
  }
}

/** The client was closed (or stopped by an AgentAuthError) before this send was acknowledged. */
export class AgentClosedError extends AgentError {
  constructor(message = 'the agent client is closed') {
    super('CLOSED', message);
  }
}
