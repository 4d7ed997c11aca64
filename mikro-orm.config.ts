import 'dotenv/config';
import { loadConfig } from './src/config/config';
import { ormOptions } from './src/db/orm';

/**
 * For the MikroORM CLI (`npx mikro-orm ...`): the same options the server uses, from the environment.
 * The server itself never reads this file; it builds the options in `src/db/orm.ts`.
 */
export default ormOptions(loadConfig(process.env));
