#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner.
// Optional arguments narrow the run to test files whose source path contains one of them
// (e.g. `node scripts/run-tests.mjs test/unit/transports/syslog`).
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const distTest = join(root, 'dist', 'test');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2).map((f) => f.replace(/\.ts$/, '').replace(/\\/g, '/'));
const files = walk(distTest)
  .filter((f) => {
    if (filters.length === 0) return true;
    const src = relative(join(root, 'dist'), f).split(sep).join('/').replace(/\.js$/, '');
    return filters.some((flt) => src.includes(flt));
  })
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.PORTWARDEN_TEST_CONCURRENCY ?? '3';
// The wine tests (test/wine: the Windows collector under wine) run after the others, on their own:
// each Windows process start takes seconds under wine, so they get a longer per-file limit and
// are not slowed further by the rest of the suite.
const isWine = (f) => relative(join(root, 'dist'), f).split(sep).join('/').startsWith('test/wine/');
let status = 0;
for (const [group, timeout] of [[files.filter((f) => !isWine(f)), 300_000], [files.filter(isWine), 900_000]]) {
  if (group.length === 0) continue;
  const r = spawnSync(
    process.execPath,
    ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`, ...group],
    { stdio: 'inherit', cwd: root },
  );
  if ((r.status ?? 1) !== 0) status = r.status ?? 1;
}
process.exit(status);
