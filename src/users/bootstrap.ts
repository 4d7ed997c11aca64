import { RequestContext } from '@mikro-orm/core';
import { DEV_ADMIN_PASSWORD, type Config } from '../config/config';
import type { Orm } from '../db/orm';
import { AppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { User } from './user.entity';
import { BUTLER_USERNAME, type UsersService } from './users.service';

/**
 * Creates the Butler and the bootstrap admin when they are missing. Idempotent, and safe when several
 * replicas start at once: the unique username decides, and the loser treats its 409 as done.
 */
export async function bootstrapUsers(orm: Orm, users: UsersService, config: Config, logger: Logger): Promise<void> {
  await RequestContext.create(orm.em, async () => {
    if (!(await orm.em.findOne(User, { role: 'BUTLER' }))) {
      const created = await ignoreTaken(users.insertUnique(async (em) => users.newUser(em, BUTLER_USERNAME, 'BUTLER', 'The in-process coordinator')));
      if (created) logger.info('created the Butler user');
    }
    if (!(await orm.em.findOne(User, { role: 'ADMIN' }))) {
      const created = await ignoreTaken(users.createHuman({ username: config.admin.username, password: config.admin.password, role: 'ADMIN' }));
      if (created) logger.info({ username: config.admin.username }, 'created the bootstrap admin');
      // Only now, when an admin really has the well-known password: an existing admin's is not this start's business.
      if (created && config.admin.password === DEV_ADMIN_PASSWORD) {
        logger.warn({ username: config.admin.username }, 'the bootstrap admin was created with the development default password (development only: set ADMIN_PASSWORD before the first start to choose another)');
      }
    }
  });
}

async function ignoreTaken<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.code === 'CONFLICT') return undefined;
    throw err;
  }
}
