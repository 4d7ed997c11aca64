// Runs a TypeScript file of the test tree with Node, no build step and no jest: `node test/console/run-ts.js <file.ts>`.
// The same compiler the test suite uses (@swc/core), as a CommonJS require hook.
const { readFileSync } = require('node:fs');
const { resolve } = require('node:path');
const swc = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};

require(resolve(process.argv[2]));
