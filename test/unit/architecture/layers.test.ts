// The layer order the README's "Design decisions" states, checked on the sources: a module imports
// only from its own layer or a lower one (type-only imports included), never from tests or benches,
// and no import circle exists. Also: no source file over 400 lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { repoRoot } from '../../../testkit/paths.js';

/** Lowest first. Folders in one row are peers: neither may import the other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['agent/util'],
  ['agent/log'],
  ['config'],
  ['agent/sources'],
  ['agent/lineage'],
  ['agent/ecs'],
  ['agent/detect', 'transports'],
  ['agent/pipeline'],
  ['agent/watch'],
  ['agent/runtime'],
  ['agent/policy'],
  ['agent/app'],
  ['agent/cli'],
  ['agent/docs'],
];

/** Known exceptions, each with the reason; none may be added without one. */
const ALLOWED: Readonly<Record<string, string>> = {};

const ROOTS = ['agent', 'transports', 'config'];

function walk(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, ext));
    else if (ext.test(name)) out.push(p);
  }
  return out;
}

const rel = (p: string): string => relative(repoRoot, p).split(sep).join('/');

/** Relative imports of a module (static, re-exports, dynamic with a literal, side-effect only), as repo paths. */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [
    ...src.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'/gm),
    ...src.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1] ?? '');
  return specs.filter((s) => s.startsWith('.')).map((s) => rel(join(dirname(file), s)).replace(/\.js$/, '.ts'));
}

function layerOf(path: string): { rank: number; group: string } | undefined {
  for (const [rank, groups] of LAYERS.entries()) {
    for (const group of groups) if (path === group || path.startsWith(`${group}/`)) return { rank, group };
  }
  return undefined;
}

const files = ROOTS.flatMap((r) => walk(join(repoRoot, r), /\.ts$/)).map(rel).sort();
const graph = new Map(files.map((f) => [f, importsOf(join(repoRoot, f))]));

test('every module is in a layer and imports only its own layer or lower ones', () => {
  const problems: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    if (a === undefined) { problems.push(`${from}: in no layer (add its folder to LAYERS)`); continue; }
    for (const to of targets) {
      const edge = `${from} -> ${to}`;
      if (Object.hasOwn(ALLOWED, edge)) continue;
      const b = layerOf(to);
      if (b === undefined) problems.push(`${edge}: imports outside the product (tests, testkit, benches, scripts)`);
      else if (b.rank > a.rank) problems.push(`${edge}: ${a.group} may not import the higher layer ${b.group}`);
      else if (b.rank === a.rank && b.group !== a.group) problems.push(`${edge}: peers ${a.group} and ${b.group} may not import each other`);
    }
  }
  assert.ok(files.length > 150, `read ${files.length} modules`);
  assert.deepEqual(problems, []);
});

test('no import circle between modules (type-only imports count)', () => {
  // Tarjan's strongly connected components: a component of more than one module is a circle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
        onStack.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  assert.deepEqual(circles, []);
});

test('no source file is over 400 lines', () => {
  const tracked = ['agent', 'transports', 'config', 'testkit', 'test', 'bench', 'scripts', 'native']
    .flatMap((r) => walk(join(repoRoot, r), /\.(ts|mjs|c|cc|h)$/))
    .map(rel)
    .filter((f) => !f.startsWith('test/fixtures/'));
  const long = tracked.map((f) => [f, readFileSync(join(repoRoot, f), 'utf8').split('\n').length - 1] as const).filter(([, n]) => n > 400);
  assert.deepEqual(long, []);
});
