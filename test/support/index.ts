/**
 * The test kit: `startTestApp` (the real app on port 0 over a fresh database), `testConfig`, one
 * socket client with waiters, one REST client, factories for principals and direct-row fixtures.
 * Suites import from here only.
 */
export * from './database';
export * from './factories';
export * from './fake-llm';
export * from './manual-clock';
export * from './rest-client';
export * from './rows';
export * from './socket-client';
export * from './test-app';
export * from './test-config';
export * from './waits';
