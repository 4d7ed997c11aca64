import { z } from 'zod';
import { cursorSchema, limitSchema } from '../shared/paging';
import { stringField } from '../shared/fields';

export const usernameSchema = stringField('username')
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'username must be 1-64 letters, digits, _ - or .');

export const passwordSchema = stringField('password')
  .min(8, 'password must be at least 8 characters')
  .max(128, 'password must be at most 128 characters');

export const createUserSchema = z.object({
  username: usernameSchema,
  password: passwordSchema,
  role: z.enum(['ADMIN', 'MEMBER'], { error: 'role must be ADMIN or MEMBER' }),
});

export const ascendingPageSchema = z.object({ after_id: cursorSchema, limit: limitSchema });
export type AscendingPage = z.infer<typeof ascendingPageSchema>;
