import type { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { ERROR_STATUS, type ErrorCode } from '../shared/errors';
import { errorSchema } from './openapi.schemas';

const JSON_TYPE = 'application/json';

/** Who may call an operation: the route guards of auth.middleware.ts, as OpenAPI security. */
export type Access = 'public' | 'human' | 'admin' | 'adminOrAgent';

export interface Operation {
  summary: string;
  tag: string;
  access: Access;
  query?: z.ZodObject;
  path?: z.ZodObject;
  body?: z.ZodType;
  ok: { status: number; description: string; schema?: z.ZodType; type?: string };
  /** The catalogue codes this operation answers besides the ones its access and body imply. */
  errors?: ErrorCode[];
}

/** One response per status, each naming its codes (401 can be UNAUTHORIZED or INVALID_CREDENTIALS). */
function errorResponses(codes: ErrorCode[]): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status) as '400'] = { description: [...new Set(list)].join(' or '), content: { [JSON_TYPE]: { schema: errorSchema } } };
  }
  return out;
}

const SECURITY: Record<Access, Array<Record<string, string[]>>> = {
  public: [],
  human: [{ loginJwt: [] }],
  admin: [{ loginJwt: [] }],
  adminOrAgent: [{ loginJwt: [] }, { agentToken: [] }],
};
const ACCESS_ERRORS: Record<Access, ErrorCode[]> = {
  public: [],
  human: ['UNAUTHORIZED'],
  admin: ['UNAUTHORIZED', 'FORBIDDEN'],
  adminOrAgent: ['UNAUTHORIZED', 'FORBIDDEN'],
};
const ACCESS_NOTE: Record<Access, string> = {
  public: '',
  human: ' Any logged-in ADMIN or MEMBER.',
  admin: ' ADMIN only.',
  adminOrAgent: " An ADMIN's login JWT or an agent's API token.",
};

/** One documented operation: its security, parameters, body, success and the errors it can answer. */
export function operation(o: Operation): ZodOpenApiOperationObject {
  const errors: ErrorCode[] = [...ACCESS_ERRORS[o.access], ...(o.errors ?? [])];
  if (o.query || o.path || o.body) errors.unshift('VALIDATION_ERROR');
  if (o.body) errors.push('PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  errors.push('INTERNAL_ERROR');
  const okContent = o.ok.schema ? { content: { [o.ok.type ?? JSON_TYPE]: { schema: o.ok.schema } } } : {};
  return {
    summary: o.summary,
    description: `${o.summary}.${ACCESS_NOTE[o.access]}`,
    tags: [o.tag],
    ...(o.access === 'public' ? { security: [] } : { security: SECURITY[o.access] }),
    ...(o.query || o.path ? { requestParams: { ...(o.query ? { query: o.query } : {}), ...(o.path ? { path: o.path } : {}) } } : {}),
    ...(o.body ? { requestBody: { required: true, content: { [JSON_TYPE]: { schema: o.body } } } } : {}),
    responses: { [String(o.ok.status)]: { description: o.ok.description, ...okContent }, ...errorResponses(errors) },
  };
}
