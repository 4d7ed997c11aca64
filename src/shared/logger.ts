import pino, { type Logger } from 'pino';
import { redactSecrets } from './redact';

export type { Logger };

/**
 * Structured JSON logs on stdout. Redaction is a second line of defence: code never passes a token,
 * password or hash to the logger in the first place.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'echocenter', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'api_token', '*.api_token', 'authorization', '*.authorization', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** pino's error serializer, with credential-shaped text removed from the message and the stack. */
function serializeError(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const out = pino.stdSerializers.err(err);
  if (typeof out.message === 'string') out.message = redactSecrets(out.message);
  if (typeof out.stack === 'string') out.stack = redactSecrets(out.stack);
  return out;
}
