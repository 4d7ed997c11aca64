import type { Platform } from '@mikro-orm/core';
import { BaseSqlitePlatform } from '@mikro-orm/knex';

/**
 * Migrations keep one history for both databases and branch on the dialect where the SQL differs.
 * Asked of the SQLite side, which lives in `@mikro-orm/knex` (always loaded), so that the PostgreSQL
 * driver is not imported by replicas that do not use it; the two are the only databases supported.
 */
export const isPostgres = (platform: Platform): boolean => !(platform instanceof BaseSqlitePlatform);
