import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { limitMallocArenas, operatorChoseSemiSpace } from '../../../../agent/runtime/heap-tuning.js';
import { loadSockDiag } from '../../../../agent/sources/linux/sock-diag.js';
import { repoRoot } from '../../../../testkit/paths.js';

test('an operator\'s own young-generation flag wins over the agent\'s setting', () => {
  assert.equal(operatorChoseSemiSpace([], undefined), false);
  assert.equal(operatorChoseSemiSpace(['--max-old-space-size=200'], '--trace-warnings'), false);
  assert.equal(operatorChoseSemiSpace(['--max-semi-space-size=8'], undefined), true);
  assert.equal(operatorChoseSemiSpace(['--semi_space_growth_factor=2'], undefined), true);
  assert.equal(operatorChoseSemiSpace([], '--max-semi-space-size=4 --trace-warnings'), true);
  assert.equal(operatorChoseSemiSpace(['--max-semi-space-sizes'], undefined), false, 'only the exact flag names');
});

// What the README promises: after a burst of allocation the agent's young generation stays at its
// initial size, where plain node grows it to tens of MB.
test('with the agent\'s setting a burst of allocation leaves the young generation small', () => {
  const tuning = pathToFileURL(join(repoRoot, 'dist', 'agent', 'runtime', 'heap-tuning.js')).href;
  const burst = `const keep = []; for (let i = 0; i < 300; i++) { const a = []; for (let j = 0; j < 20000; j++) a.push({ j, s: 'x' + j }); keep[i % 3] = a; }
    const ns = (await import('node:v8')).getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(ns.space_size);`;
  const size = (prelude: string) => Number(execFileSync(process.execPath, ['--input-type=module', '-e', `${prelude}\n${burst}`], { encoding: 'utf8' }).trim());
  const plain = size('');
  const tuned = size(`await import(${JSON.stringify(tuning)});`);
  assert.ok(plain >= 8 * 2 ** 20, `plain node grows the young generation (${plain} bytes)`);
  assert.ok(tuned <= 4 * 2 ** 20, `the agent's stays small (${tuned} bytes)`);
});

test('the malloc arena cap is applied (mallopt accepts it) unless the operator set MALLOC_ARENA_MAX', { skip: loadSockDiag() === undefined ? 'needs the sock_diag addon (Linux, glibc)' : false }, () => {
  assert.equal(limitMallocArenas({ MALLOC_ARENA_MAX: '8' }), false, 'the environment wins');
  assert.equal(limitMallocArenas({}), true, 'mallopt(M_ARENA_MAX) accepted');
});
