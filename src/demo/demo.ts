import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createApp, type App } from '../app';
import { DEV_ADMIN_PASSWORD, loadConfig } from '../config/config';
import { connectAgent, type AgentClient } from '../sdk';
import type { Logger } from '../shared/logger';
import { demoAgents, type DemoAgent } from './demo-agents';
import { adminLogin, ensureAgentTokens, TokenFile, type TokenOrigin } from './demo-tokens';

export interface DemoOptions {
  /** Where the demo keeps its database, agent tokens and cursors (default `./data/demo`). */
  dataDir?: string;
  /** The environment to read settings from (default `process.env`); the database is always SQLite in `dataDir`. */
  env?: Record<string, string | undefined>;
  /** Port (default PORT or 8080; 0 picks a free one) and host (default HOST or 127.0.0.1). */
  port?: number;
  host?: string;
  logger?: Logger;
  /** Delay between the narrator's chunks (default 150 ms). */
  chunkDelayMs?: number;
}

/** A running demo: the server, its connected agents, and `stop()`. */
export interface Demo {
  app: App;
  url: string;
  dataDir: string;
  admin: { username: string; password: string };
  agents: { definition: DemoAgent; client: AgentClient; origin: TokenOrigin }[];
  stop(): Promise<void>;
}

/**
 * `npm run demo` without the process around it: starts the server on SQLite in its own data dir,
 * registers the demo agents through the REST API (their tokens kept in the data dir, reused on the
 * next run), connects each with the SDK and waits until all are online.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const dataDir = resolve(options.dataDir ?? join('data', 'demo'));
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const env = options.env ?? process.env;
  const config = loadConfig({
    LOG_LEVEL: 'warn',
    ...env,
    DB_DRIVER: 'sqlite',
    SQLITE_PATH: join(dataDir, 'echocenter.db'),
    // One replica on its own: no Redis, whatever the environment says.
    REDIS_URL: undefined,
  });
  const app = await createApp(config, options.logger ? { logger: options.logger } : {});
  const agents: Demo['agents'] = [];
  const stop = async () => {
    await Promise.allSettled(agents.map((a) => a.client.close({ timeoutMs: 2_000 })));
    await app.close();
  };
  try {
    const url = await app.listen(options.port ?? (env.PORT ? Number(env.PORT) : 8080), options.host ?? env.HOST ?? '127.0.0.1');
    const adminToken = await adminLogin(url, config.admin.username, config.admin.password);
    const definitions = demoAgents(dataDir, { chunkDelayMs: options.chunkDelayMs });
    const tokens = await ensureAgentTokens(url, adminToken, definitions, new TokenFile(join(dataDir, 'agent-tokens.json')));
    for (const definition of definitions) {
      const client = connectAgent({ url, token: tokens[definition.username].token, cursor: join(dataDir, `${definition.username}.cursor.json`) });
      client.onDirective(async (d, ctx) => {
        void client.status('busy', `working on: ${d.command}`.slice(0, 1000)).catch(() => undefined);
        try {
          return await definition.handle(d, ctx);
        } finally {
          void client.status('idle', `last: ${d.command}`.slice(0, 1000)).catch(() => undefined);
        }
      });
      agents.push({ definition, client, origin: tokens[definition.username].origin });
    }
    await Promise.all(agents.map((a) => a.client.ready()));
    await Promise.all(agents.map((a) => a.client.status('idle', a.definition.description.slice(0, 1000))));
    return { app, url, dataDir, admin: { username: config.admin.username, password: config.admin.password }, agents, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** What `npm run demo` prints once everything is up. */
export function demoInstructions(demo: Demo): string {
  // Only the well-known development password is printed; a real one stays where it was set.
  const password = demo.admin.password === DEV_ADMIN_PASSWORD ? DEV_ADMIN_PASSWORD : 'the ADMIN_PASSWORD you set';
  const lines = [
    '',
    `EchoCenter demo is running at ${demo.url}`,
    '',
    `  Log in at ${demo.url}/ as ${demo.admin.username} with ${password}`,
    `  (or: curl -s ${demo.url}/api/auth/login -H 'content-type: application/json' -d '{"username":"${demo.admin.username}","password":"…"}').`,
    '',
    `  Agents online: ${demo.agents.map((a) => `${a.definition.username} (token ${a.origin})`).join(', ')}`,
    '',
    '  Say to the Butler:',
    '    1. list agents',
    '    2. ask custodian to report disk and memory usage',
    '    3. ask narrator to tell a story about a lighthouse',
    '',
    '  Each "ask" files a request: approve it as an admin, and the agent answers within a moment.',
    `  Data (database, agent tokens, cursors) lives in ${demo.dataDir}. Ctrl-C stops everything.`,
    '',
  ];
  return lines.join('\n');
}
