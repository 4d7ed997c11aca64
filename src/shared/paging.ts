import { z } from 'zod';
import { validationError } from './errors';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

const positiveId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** `limit` defaults to 50 and is clamped to 200; below 1 it is a validation error (PROTOCOL §2.1). */
export const limitSchema = z.coerce
  .number({ error: 'limit must be a number' })
  .int('limit must be a whole number')
  .min(1, 'limit must be at least 1')
  .transform((n) => Math.min(n, MAX_LIMIT))
  .default(DEFAULT_LIMIT)
  .meta({ description: `How many at most: ${DEFAULT_LIMIT} when absent, ${MAX_LIMIT} when larger` });

export const cursorSchema = positiveId.optional().meta({ description: 'A positive id; as a cursor (after_id, before_id) the page starts just past it' });

/** Parses a query object against a schema and turns the first problem into a 400 with its field name. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  return parseOrThrow(schema, query);
}

/**
 * Parses a request body (or query) against a schema; a failure is a VALIDATION_ERROR naming the field.
 * A body that is JSON but not an object (`[1]`, `"x"`, `null`) says so rather than "Invalid input".
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const [first] = result.error.issues;
  if (first?.path.length === 0 && first.code === 'invalid_type' && first.expected === 'object') throw validationError('request body must be a JSON object');
  throw validationError(describeIssues(result.error));
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** A path id: anything that is not a positive integer names no object. */
export function parseId(raw: string | undefined): number | undefined {
  const r = positiveId.safeParse(raw);
  return r.success && /^\d+$/.test(raw ?? '') ? r.data : undefined;
}
