import 'dotenv/config';
import { loadConfig } from './config/config';
import { initOrm } from './db/orm';
import { ENTITIES } from './entities';
import { createLogger } from './shared/logger';

/** `npm run migrate`: applies pending migrations and exits, for deployments with a separate step. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);
  const orm = await initOrm(config, logger, ENTITIES);
  await orm.close(true);
  logger.info('migrations are up to date');
}

main().catch((err) => {
  process.stderr.write(`migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
