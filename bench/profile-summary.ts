/**
 * Summarises a V8 `.cpuprofile` (from `--profile DIR` of the bench scripts): self time by function
 * and by package, top first.
 *
 *   node dist/bench/profile-summary.js DIR/CPU.….cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { Args } from './lib/args';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile [--top 30]');
  process.exit(1);
}
const top = new Args(process.argv.slice(3)).number('top', 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

const where = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes('/dist/src/')) return 'echocenter src';
  if (url.includes('/dist/bench/')) return 'bench';
  return url.startsWith('node:') ? 'node core' : url ? url : '(native/idle/gc)';
};
const fnKey = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}  ${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const sum = (key: (n: Node) => string) => {
  const m = new Map<string, number>();
  for (const [id, us] of selfMicros) {
    const n = byId.get(id)!;
    m.set(key(n), (m.get(key(n)) ?? 0) + us);
  }
  return [...m].sort((a, b) => b[1] - a[1]);
};
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
console.log('\nself time by package:');
for (const [k, us] of sum((n) => where(n.callFrame.url)).slice(0, 15)) console.log(`  ${pct(us)}  ${k}`);
console.log('\nself time by function:');
for (const [k, us] of sum(fnKey).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
