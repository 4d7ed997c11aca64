import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { RequestContext } from '@mikro-orm/core';
import type { Orm } from '../db/orm';
import { notFound, toErrorBody, unsupportedMediaType, validationError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { AppContext, AppState } from './context';

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Outermost middleware: gives every request an id (kept from `X-Request-Id` when it is sane), maps any
 * error to `{error, code}` through the one catalogue, and writes one access log line. The line has
 * the path without its query string, so nothing a client puts in a URL is logged.
 */
export function requestLifecycle(logger: Logger, metrics: Metrics, production: boolean): Middleware<AppState> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('X-Request-Id');
    const requestId = SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw notFound(`No route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const { status, body } = toErrorBody(err, production);
      ctx.status = status;
      ctx.body = body;
      const headers = (err as { headers?: Record<string, string> }).headers;
      if (headers && status < 500) ctx.set(headers);
      if (status >= 500) logger.error({ err, requestId }, 'request failed');
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
    metrics.httpRequests.observe({ method: ctx.method, route, status: String(ctx.status) }, ms / 1000);
    logger.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, duration_ms: Math.round(ms * 10) / 10 }, 'request');
  };
}

/** One entity-manager fork per request (the unit of work). */
export function ormContext(orm: Orm): Middleware<AppState> {
  return (_ctx, next) => RequestContext.create(orm.em, next);
}

/** The content types the body parser reads as JSON (its defaults); anything else is never parsed. */
export const JSON_TYPES = ['application/json', 'application/json-patch+json', 'application/vnd.api+json', 'application/csp-report', 'application/reports+json', 'application/scim+json'];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Before the body parser: a non-empty body that is not JSON is a 415. The parser would skip it and the
 * route would then report the first field as missing ("username is required" for a form post), which
 * sends the client looking in the wrong place. An empty body (a bodiless PATCH) passes.
 */
export function requireJsonBody(isRoute: (ctx: AppContext) => boolean): Middleware<AppState> {
  return (ctx, next) => {
    const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get('Transfer-Encoding') !== '';
    // An unknown route stays a 404 whatever its body: the content type is not what is wrong there.
    if (hasBody && BODY_METHODS.has(ctx.method) && !ctx.request.is(JSON_TYPES) && isRoute(ctx)) throw unsupportedMediaType();
    return next();
  };
}

/**
 * The body parser's `onError`: its JSON failures are bare SyntaxErrors (status 400, the library's own
 * wording); they become VALIDATION_ERRORs that say the body is the problem. Size errors pass as they are.
 */
export function jsonBodyError(err: Error): never {
  if (!(err instanceof SyntaxError)) throw err;
  // co-body's strict mode refuses top-level scalars (`42`, `"x"`, `null`) with this message.
  if (/only supports object and array/.test(err.message)) throw validationError('request body must be a JSON object');
  throw validationError('request body is not valid JSON');
}
