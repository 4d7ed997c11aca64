import * as crypto from 'node:crypto';

const PREFIX = 'ec_';

/** A new API token: `ec_` and 32 random bytes in base64url (256 bits of entropy). */
export function newAgentToken(): string {
  return PREFIX + crypto.randomBytes(32).toString('base64url');
}

/**
 * Node's one-shot `crypto.hash` (20.12+, 21.7+) where there is one: no Hash stream object, whose native
 * handle outlives young-generation collections, for each agent handshake of a reconnection burst.
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** Tokens are high-entropy, so one SHA-256 is enough to store them and makes lookup an index hit. */
export function hashAgentToken(token: string): string {
  if (oneShotHash) return oneShotHash('sha256', token, 'hex');
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The few characters that identify a token in lists, e.g. `ec_4f…9a`. */
export function tokenHint(token: string): string {
  return `${token.slice(0, PREFIX.length + 2)}…${token.slice(-2)}`;
}

/** Whether a bearer credential has the shape of an agent token (and so is not a JWT). */
export function looksLikeAgentToken(credential: string): boolean {
  return credential.startsWith(PREFIX) && credential.length <= 128;
}
