/**
 * Removes credential-shaped text from a string. Driver errors carry their SQL with the bound values
 * inlined (MikroORM formats queries before running them), so a failed insert or lookup would put a
 * password hash or token hash into an error message. Every error message that reaches a log line or
 * a response passes through here.
 */
const SECRET_SHAPES = [
  /\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}/g, // bcrypt
  /\$argon2(?:id|i|d)\$[^\s'"`,)]+/g, // argon2
  /\bec_[A-Za-z0-9_-]{20,}/g, // agent API token
  /\b[0-9a-f]{64}\b/gi, // SHA-256 hex (agent token hash)
];

export function redactSecrets(text: string): string {
  return SECRET_SHAPES.reduce((t, shape) => t.replace(shape, '[redacted]'), text);
}
