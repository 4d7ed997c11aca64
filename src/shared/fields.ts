import { z } from 'zod';

/**
 * A string field whose type error says which of the two things is wrong: `username is required` when
 * it is absent, `username must be a string` when it is there with another type (a number, `true`).
 * One message for both sent clients looking for a missing field that was present.
 */
export function stringField(field: string): z.ZodString {
  return z.string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) });
}
