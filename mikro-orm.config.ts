import 'dotenv/config';
import { loadConfig } from './src/config/config';
import { ormOptions } from './src/db/orm';
import { ENTITIES } from './src/entities';

/**
 * For the MikroORM CLI (`npx mikro-orm ...`): the same options the server uses, from the environment.
 * The server itself never reads this file; it builds the options in `src/db/orm.ts`. A function,
 * because the options are async (the driver is imported on demand); the CLI awaits it.
 */
export default () => ormOptions(loadConfig(process.env), ENTITIES);
