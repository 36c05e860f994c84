import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { beginBurst, endBurst, operatorSetFlag } from '../../../../agent/runtime/v8-flags.js';
import { repoRoot } from '../../../../testkit/paths.js';

test('an operator flag is recognised in every spelling node accepts', () => {
  const jit = /opt|turbofan|max-opt|parallel-scavenge/;
  assert.equal(operatorSetFlag(jit, ['--no-opt'], undefined), true);
  assert.equal(operatorSetFlag(jit, ['--max-opt=2'], undefined), true);
  assert.equal(operatorSetFlag(jit, ['--parallel_scavenge'], undefined), true);
  assert.equal(operatorSetFlag(jit, [], '--trace-warnings --no-turbofan'), true);
  assert.equal(operatorSetFlag(jit, ['--optimize-for-size', '--max-old-space-size=200'], '--trace-warnings'), false, 'only the exact flag names');
});

test('a burst is begun once, ended once, and never over an operator\'s flag', () => {
  assert.equal(beginBurst(['--max-opt=1'], undefined), false, 'the operator chose the compiler tiers');
  assert.equal(endBurst(), false, 'nothing to end');
  assert.equal(beginBurst([], undefined), true);
  assert.equal(beginBurst([], undefined), false, 'already in a burst');
  assert.equal(endBurst(), true);
  assert.equal(endBurst(), false);
});

// What the settings do: during a burst V8 does not optimize a hot function; after it, it does.
test('during a burst hot code stays unoptimized, afterwards it is optimized again', () => {
  const mod = pathToFileURL(join(repoRoot, 'dist', 'agent', 'runtime', 'v8-flags.js')).href;
  const script = `const { beginBurst, endBurst } = await import(${JSON.stringify(mod)});
    function during(x) { return x * 2 + 1; }
    function after(x) { return x * 3 + 1; }
    // The caller never gets optimized code, so the callees are optimized on their own, not inlined.
    function callMany(f) { let s = 0; for (let i = 0; i < 300000; i++) s += f(i); return s; }
    %NeverOptimizeFunction(callMany);
    // Bits 16 and 64 of %GetOptimizationStatus: the function runs optimized (TurboFan) code.
    const optimized = (f) => (%GetOptimizationStatus(f) & (16 | 64)) !== 0;
    beginBurst([], undefined);
    callMany(during); callMany(during);
    const duringBurst = optimized(during);
    endBurst();
    callMany(after); callMany(after);
    console.log(JSON.stringify({ duringBurst, afterBurst: optimized(after) }));`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { duringBurst: false, afterBurst: true });
});

// What the agent does when its first scan is over: V8 compacts and releases the heap right away.
const heapControl = join(repoRoot, 'dist', 'native', 'heap_control.node');
const noHeapControl = existsSync(heapControl) ? false : 'heap_control.node not built (needs a C++ compiler)';

/** In a child node: a burst's garbage, then `reduce` (code using `reduceHeap` / `reduceHeapAfter`); heap sizes before and after. */
function heapAround(reduce: string): { reduced: unknown; before: number; after: number } {
  const mod = pathToFileURL(join(repoRoot, 'dist', 'agent', 'runtime', 'v8-flags.js')).href;
  const script = `const { reduceHeap, reduceHeapAfter } = await import(${JSON.stringify(mod)});
    const { getHeapStatistics } = await import('node:v8');
    let keep = [];
    for (let i = 0; i < 400000; i++) keep.push({ i, s: 'record ' + i });
    keep = undefined;
    const before = getHeapStatistics().total_heap_size;
    const reduced = await (async () => { ${reduce} })();
    console.log(JSON.stringify({ reduced, before, after: getHeapStatistics().total_heap_size }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { reduced: unknown; before: number; after: number };
}

test('reduceHeap releases the heap a burst left behind', { skip: noHeapControl }, () => {
  const r = heapAround('return reduceHeap();');
  assert.equal(r.reduced, true);
  assert.ok(r.after < r.before / 2, `heap ${(r.before / 2 ** 20).toFixed(1)} MB -> ${(r.after / 2 ** 20).toFixed(1)} MB`);
});

test('reduceHeapAfter releases it when its timer fires (after a scheduled inventory), not before', { skip: noHeapControl }, () => {
  // The timer is the test's: the child checks the heap before and after firing it, without waiting.
  const r = heapAround(`let fire, delay, unrefd = false;
    reduceHeapAfter(5000, (fn, ms) => { fire = fn; delay = ms; return { unref() { unrefd = true; } }; });
    const { getHeapStatistics } = await import('node:v8');
    const pending = getHeapStatistics().total_heap_size;
    if (delay !== 5000 || !unrefd || pending < before * 0.9) return { delay, unrefd, pending };
    fire();
    return true;`);
  assert.equal(r.reduced, true, JSON.stringify(r.reduced));
  assert.ok(r.after < r.before / 2, `heap ${(r.before / 2 ** 20).toFixed(1)} MB -> ${(r.after / 2 ** 20).toFixed(1)} MB`);
});
