/**
 * `echocenter/agent` as an agent program sees it: the built entry point (package.json "exports"),
 * required from CommonJS, imported by name from plain ESM (the package is CommonJS, so this only
 * works when Node can see its named exports), and typed for a TypeScript program.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from '../cluster/processes';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');
// Inside the package, so that `echocenter/agent` resolves through the package's own "exports".
const dir = join(root, 'dist', '.sdk-import-check');

const PRINT = `console.log(JSON.stringify({ connectAgent: typeof connectAgent, AgentAuthError: typeof AgentAuthError, FileCursorStore: typeof FileCursorStore, MemoryCursorStore: typeof MemoryCursorStore }));`;
const FILES = {
  'import.mjs': `import { connectAgent, AgentAuthError, FileCursorStore, MemoryCursorStore } from 'echocenter/agent';\n${PRINT}\n`,
  'require.cjs': `const { connectAgent, AgentAuthError, FileCursorStore, MemoryCursorStore } = require('echocenter/agent');\n${PRINT}\n`,
  'consumer.mts': [
    `import { connectAgent, type Directive, type Envelope } from 'echocenter/agent';`,
    `const agent = connectAgent({ url: 'http://localhost:8080', token: () => 'ec_token' });`,
    'agent.onDirective((d: Directive) => `done: ${d.command}`);',
    `agent.onMessage((e: Envelope) => void e.id);`,
    `agent.on('replayed', ({ lastId }) => void (lastId satisfies number));`,
    `// @ts-expect-error: status() takes a string`,
    `void agent.status(42);`,
  ].join('\n'),
};
const EXPECTED = { connectAgent: 'function', AgentAuthError: 'function', FileCursorStore: 'function', MemoryCursorStore: 'function' };

describe("the package entry point 'echocenter/agent'", () => {
  beforeAll(async () => {
    await ensureBuilt(); // the cluster suites' build, under their lock: two workers never build at once
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('works from plain Node ESM with named imports', async () => {
    const { stdout } = await run(process.execPath, [join(dir, 'import.mjs')], { cwd: root });
    expect(JSON.parse(stdout)).toEqual(EXPECTED);
  });

  it('works from CommonJS require()', async () => {
    const { stdout } = await run(process.execPath, [join(dir, 'require.cjs')], { cwd: root });
    expect(JSON.parse(stdout)).toEqual(EXPECTED);
  });

  it('ships its types: a TypeScript program (module nodenext) type-checks against the built .d.ts', async () => {
    const args = [require.resolve('typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', join(dir, 'consumer.mts')];
    await expect(run(process.execPath, args, { cwd: root })).resolves.toBeDefined();
  }, 60_000);
});
