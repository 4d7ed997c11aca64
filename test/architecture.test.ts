import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';

/**
 * The shape rules of issue 10 and STYLE.md, checked on the source text:
 * - dependencies between top-level `src/` folders point one way (no cycle, type-only imports
 *   included: a type cycle is still two modules that cannot be read or changed apart);
 * - files directly in `src/` (app.ts, main.ts, migrate.ts) are the composition root: they may
 *   import anything, nothing in a folder may import them, except programs built on the whole app
 *   (`demo/`, which starts a server and its agents), which nothing else may import either;
 * - `shared/` imports no domain module;
 * - each module owns its rows: an entity class (or its schema) is imported as a value, which is
 *   what querying or writing its table takes, only by its own folder, by another entity (a
 *   relation) and by the composition root; other modules may name it as a type and call the owner;
 * - no `src/` file is over 400 lines.
 */

const MAX_LINES = 400;
const DOMAINS = new Set(['auth', 'users', 'agents', 'messages', 'hub', 'butler']);
const ROOT = '(composition root)';
/** Folders that are programs on top of the whole app, like main.ts: they may import the composition root. */
const PROGRAMS = new Set(['demo']);

/** Source files by path relative to `src/` (posix separators). */
type Sources = Map<string, string>;

function readSources(dir: string): Sources {
  const out: Sources = new Map();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.set(relative(dir, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

/** Every import specifier of a file: static, type-only, re-exports, `import()` and `require()`. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The `src/`-relative file a relative specifier names, or undefined when it leaves `src/`. */
function resolve(from: string, spec: string, sources: Sources): string | undefined {
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  if (base.startsWith('..')) return undefined;
  return [`${base}.ts`, `${base}/index.ts`, base].find((c) => sources.has(c));
}

const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : ROOT);

interface Edge {
  from: string;
  to: string;
  /** One import that makes the edge, `file -> specifier`, for the report. */
  example: string;
}

/** Folder-to-folder edges, one example import each. */
function folderEdges(sources: Sources): Map<string, Map<string, Edge>> {
  const edges = new Map<string, Map<string, Edge>>();
  for (const [file, text] of sources) {
    for (const spec of specifiers(text)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(file, spec, sources);
      if (!target) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, { from, to, example: `src/${file} -> ${spec}` });
    }
  }
  return edges;
}

/** One cycle per strongly connected group of folders (Tarjan), each as its edges in order. */
function folderCycles(edges: Map<string, Map<string, Edge>>): { group: string[]; cycle: Edge[] }[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  // Within a group every folder reaches every other: a shortest path back to the start is a cycle.
  return groups.map((group) => {
    const members = new Set(group);
    const start = group.sort()[0];
    const via = new Map<string, Edge>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const [w, edge] of edges.get(v) ?? []) {
        if (!members.has(w) || via.has(w)) continue;
        via.set(w, edge);
        if (w === start) queue.length = 0;
        else queue.push(w);
      }
    }
    const cycle: Edge[] = [];
    for (let at = start; ; ) {
      const edge = via.get(at)!;
      cycle.unshift(edge);
      at = edge.from;
      if (at === start) break;
    }
    return { group, cycle };
  });
}

/** The classes and schemas an entity file exports. */
function entityNames(text: string): Set<string> {
  return new Set([...text.matchAll(/export (?:class (\w+)|const (\w+Schema)\b)/g)].map((m) => m[1] ?? m[2]));
}

/** Imports of another folder's entity class as a value: `file imports Name from entity-file`. */
function foreignEntityImports(sources: Sources): string[] {
  const found: string[] = [];
  for (const [file, text] of sources) {
    if (folderOf(file) === ROOT || file.endsWith('.entity.ts')) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022);
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
      const clause = statement.importClause;
      const target = resolve(file, statement.moduleSpecifier.text, sources);
      if (!clause || clause.isTypeOnly || !target?.endsWith('.entity.ts') || folderOf(target) === folderOf(file)) continue;
      const owned = entityNames(sources.get(target)!);
      const bindings = clause.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : [];
      for (const b of bindings) {
        const name = (b.propertyName ?? b.name).text;
        if (!b.isTypeOnly && owned.has(name)) found.push(`src/${file} imports ${name} from src/${target}: ask ${folderOf(target)}/'s service instead`);
      }
    }
  }
  return found;
}

/** Every rule broken, as lines a reader can act on; empty when the code has the right shape. */
export function architectureProblems(sources: Sources): string[] {
  const problems: string[] = [];
  const edges = folderEdges(sources);
  for (const { group, cycle } of folderCycles(edges)) {
    const path = [...cycle.map((e) => e.from), cycle[0].from].join(' -> ');
    const knot = group.length > cycle.length ? ` (one cycle of several among ${group.join(', ')})` : '';
    problems.push(`import cycle between folders: ${path}${knot}\n${cycle.map((e) => `    ${e.example}`).join('\n')}`);
  }
  for (const [from, targets] of edges) {
    const root = targets.get(ROOT);
    if (root && !PROGRAMS.has(from)) problems.push(`${from}/ imports the composition root: ${root.example}`);
    for (const [to, edge] of targets) if (PROGRAMS.has(to) && from !== ROOT) problems.push(`${from}/ imports the program ${to}/: ${edge.example}`);
    if (from === 'shared') {
      for (const [to, edge] of targets) if (DOMAINS.has(to)) problems.push(`shared/ imports the domain module ${to}/: ${edge.example}`);
    }
  }
  problems.push(...foreignEntityImports(sources));
  for (const [file, text] of sources) {
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES) problems.push(`src/${file} has ${lines} lines (at most ${MAX_LINES})`);
  }
  return problems;
}

describe('architecture of src/', () => {
  const sources = readSources(join(dirname(__dirname), 'src'));

  it('has no import cycle between folders, no import of the composition root, no foreign entity query, and no file over 400 lines', () => {
    const problems = architectureProblems(sources);
    if (problems.length) console.error(problems.join('\n'));
    expect(problems).toEqual([]);
  });

  it('reads every file under src/', () => {
    expect(sources.has('app.ts')).toBe(true);
    expect(sources.has('hub/hub.ts')).toBe(true);
  });

  describe('the checker itself', () => {
    const fake = (files: Record<string, string>): Sources => new Map(Object.entries(files));

    it('reports a cycle made by a type-only import, with the imports that close it', () => {
      const problems = architectureProblems(
        fake({
          'users/users.service.ts': "import { x } from '../auth/credentials.repository';",
          'auth/credentials.repository.ts': "import type { User } from '../users/user.entity';",
          'users/user.entity.ts': 'export class User {}',
        }),
      );
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('auth -> users -> auth');
      expect(problems[0]).toContain("src/auth/credentials.repository.ts -> ../users/user.entity");
      expect(problems[0]).toContain("src/users/users.service.ts -> ../auth/credentials.repository");
    });

    it('reports a three-folder cycle through re-exports and dynamic imports', () => {
      const problems = architectureProblems(
        fake({
          'a/one.ts': "export * from '../b/two';",
          'b/two.ts': "const m = () => import('../c/three');",
          'c/three.ts': "import '../a/one';",
        }),
      );
      expect(problems).toEqual([expect.stringContaining('a -> b -> c -> a')]);
    });

    it('lets the composition root import anything, and refuses an import of it', () => {
      expect(architectureProblems(fake({ 'app.ts': "import '../src/hub/hub';import './hub/hub';", 'hub/hub.ts': '' }))).toEqual([]);
      expect(architectureProblems(fake({ 'app.ts': '', 'hub/hub.ts': "import { createApp } from '../app';" }))).toEqual([
        expect.stringContaining('hub/ imports the composition root'),
      ]);
    });

    it('refuses a domain import in shared/', () => {
      expect(architectureProblems(fake({ 'shared/ports.ts': "import type { X } from '../messages/x';", 'messages/x.ts': '' }))).toEqual([
        expect.stringContaining('shared/ imports the domain module messages/'),
      ]);
    });

    it("refuses another module's entity imported as a value, and allows a type, a relation and a helper", () => {
      const entity = 'export class User {}\nexport const UserSchema = 1;\nexport const isHuman = () => true;';
      expect(
        architectureProblems(
          fake({
            'users/user.entity.ts': entity,
            'hub/departures.ts': "import { User } from '../users/user.entity';",
            'butler/flow.ts': "import { UserSchema as S } from '../users/user.entity';",
          }),
        ),
      ).toEqual([
        'src/hub/departures.ts imports User from src/users/user.entity.ts: ask users/\'s service instead',
        'src/butler/flow.ts imports UserSchema from src/users/user.entity.ts: ask users/\'s service instead',
      ]);
      expect(
        architectureProblems(
          fake({
            'users/user.entity.ts': entity,
            'users/users.service.ts': "import { User } from './user.entity';",
            'hub/a.ts': "import type { User } from '../users/user.entity';",
            'hub/b.ts': "import { type User, isHuman } from '../users/user.entity';",
            'auth/credential.entity.ts': "import { User } from '../users/user.entity';",
            'app.ts': "import { UserSchema } from './users/user.entity';",
          }),
        ),
      ).toEqual([]);
    });

    it('counts lines: one over the limit is refused, the limit itself is fine', () => {
      const long = 'x;\n'.repeat(MAX_LINES + 1);
      expect(architectureProblems(fake({ 'hub/big.ts': long }))).toEqual([`src/hub/big.ts has ${MAX_LINES + 1} lines (at most ${MAX_LINES})`]);
      expect(architectureProblems(fake({ 'hub/ok.ts': 'x;\n'.repeat(MAX_LINES) }))).toEqual([]);
      expect(architectureProblems(fake({ 'messages/log/message-log.service.ts': long }))).toHaveLength(1);
    });
  });
});
