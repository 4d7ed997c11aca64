import type { Platform } from '@mikro-orm/core';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';

/** Migrations keep one history for both databases and branch on the dialect where the SQL differs. */
export const isPostgres = (platform: Platform): boolean => platform instanceof PostgreSqlPlatform;
