import 'dotenv/config';
import { createLogger } from '../shared/logger';
import { demoInstructions, startDemo } from './demo';

/** `npm run demo`: the server and the demo agents in one process, stopped cleanly by Ctrl-C or SIGTERM. */
async function main(): Promise<void> {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const demo = await startDemo({ dataDir: process.env.DEMO_DATA_DIR, logger });
  process.stdout.write(demoInstructions(demo));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the demo agents and the server…\n`);
    setTimeout(() => process.exit(1), 15_000).unref();
    demo.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`the demo did not stop cleanly: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`The demo failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
