import { loadConfig, type Config } from '../../src/config/config';

/**
 * The environment every test app starts from: cheap bcrypt, silent logs (TEST_LOG_LEVEL overrides),
 * a fixed secret and a short shutdown. Separate-process replicas (test/cluster) start from it too.
 */
export const TEST_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_ENV: 'test',
  JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-signing',
  BCRYPT_ROUNDS: '4',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  SHUTDOWN_TIMEOUT: '2s',
});

/** A validated configuration for tests: `TEST_ENV` with `overrides` winning (undefined removes a key). */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({ ...TEST_ENV, ...overrides });
}
