import { redactSecrets } from './redact';

/**
 * The one catalogue of error codes (PROTOCOL §2). HTTP responses and socket acks both map errors through
 * `toErrorBody`, so a code means the same thing everywhere.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Every code of the catalogue, in order (the OpenAPI document's enum). */
export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export interface ErrorBody {
  error: string;
  code: ErrorCode;
}

/** An error whose message is safe to show to the client. */
export class AppError extends Error {
  readonly status: number;
  readonly expose = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
    this.headers = options?.headers;
  }
  readonly headers?: Record<string, string>;
}

export const validationError = (message: string) => new AppError('VALIDATION_ERROR', message);
export const unauthorized = (message = 'Authentication required') => new AppError('UNAUTHORIZED', message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError('FORBIDDEN', message);
export const notFound = (message = 'Not found') => new AppError('NOT_FOUND', message);
export const conflict = (message: string) => new AppError('CONFLICT', message);
export const unsupportedMediaType = () =>
  new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be JSON (Content-Type: application/json)');
export const unavailable = (message = 'Service unavailable') => new AppError('UNAVAILABLE', message);

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/**
 * Maps any thrown value to a status and `{error, code}`. Errors from libraries that carry an HTTP
 * `status` and `expose` (Koa's http-errors, the body parser, koa-jwt) keep their status; anything
 * else is a 500 whose message is shown only outside production.
 */
export function toErrorBody(err: unknown, production: boolean): { status: number; body: ErrorBody } {
  if (err instanceof AppError) return { status: err.status, body: { error: err.message, code: err.code } };
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; type?: string };
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = STATUS_TO_CODE[status] ?? 'VALIDATION_ERROR';
    return { status: ERROR_STATUS[code], body: { error: clientMessage(e, code), code } };
  }
  const message = production ? 'Internal server error' : `Internal server error: ${redactSecrets(e?.message ?? String(err))}`;
  return { status: 500, body: { error: message, code: 'INTERNAL_ERROR' } };
}

function clientMessage(e: { message?: string; type?: string; expose?: boolean }, code: ErrorCode): string {
  if (e.type === 'entity.too.large') return 'Request body is larger than 1 MiB';
  if (code === 'UNAUTHORIZED') return 'Missing, invalid or revoked credential';
  return e.expose && e.message ? e.message : code.toLowerCase().replace('_', ' ');
}
