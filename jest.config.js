/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 30000,
  // Builds the web console (dist/console) when it is missing or stale; the browser suites serve it.
  globalSetup: '<rootDir>/test/console/global-setup.ts',
  // Suites share the machine's PostgreSQL and Redis; two workers fit the 2-core machine.
  maxWorkers: 2,
  watchman: false,
};
