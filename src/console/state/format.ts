/** Small formatting rules shared by the screens; pure functions so the tests can pin them. */

/** `m:ss` (or `h:mm:ss`) left until `expiresAt`, `expired` once past. */
export function countdown(expiresAt: string, nowMs: number): string {
  const left = Math.floor((Date.parse(expiresAt) - nowMs) / 1000);
  if (!(left > 0)) return 'expired';
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = String(left % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** What the sign-in form says for a refused login (PROTOCOL §2 error codes). */
export function signInMessage(status: number, code: string | undefined): string {
  if (code === 'INVALID_CREDENTIALS') return 'Wrong username or password.';
  if (code === 'RATE_LIMITED' || status === 429) return 'Too many failed attempts. Wait a minute, then try again.';
  if (code === 'VALIDATION_ERROR') return 'Enter a username and a password.';
  if (status === 0) return 'The server cannot be reached. Check your connection and try again.';
  return `Sign-in failed (${code ?? status}). Try again later.`;
}

/** A local time of day for a message line. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A client-made unique id for `local_id` (≤ 64 characters). */
export function newLocalId(random: () => number = Math.random, now: () => number = Date.now): string {
  return `c-${now().toString(36)}-${Math.floor(random() * 2 ** 48).toString(36)}`;
}
