import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { liftPrefixResult, prefixWithin } from '../../../../transports/http/batching.js';

test('prefixWithin: longest prefix within the cap, never empty', () => {
  assert.equal(prefixWithin([10, 10, 10], 30), 3);
  assert.equal(prefixWithin([10, 10, 10], 25), 2);
  assert.equal(prefixWithin([50, 10], 25), 1);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1 }), fc.integer({ min: 1, max: 500 }), (sizes, cap) => {
    const k = prefixWithin(sizes, cap);
    const sum = sizes.slice(0, k).reduce((a, b) => a + b, 0);
    return k >= 1 && k <= sizes.length && (k === 1 || sum <= cap) && (k === sizes.length || sum + (sizes[k] ?? 0) > cap);
  }));
});

test('liftPrefixResult: the unsent tail is always retried, unconfirmed sends never count as delivered', () => {
  assert.deepEqual(liftPrefixResult({ kind: 'ok' }, 2, 4), { kind: 'partial', retry: [2, 3], rejected: [] });
  assert.deepEqual(liftPrefixResult({ kind: 'partial', retry: [1], rejected: [{ index: 0, reason: 'r' }] }, 2, 3),
    { kind: 'partial', retry: [1, 2], rejected: [{ index: 0, reason: 'r' }] });
  assert.deepEqual(liftPrefixResult({ kind: 'permanent', reason: 'big' }, 1, 3),
    { kind: 'partial', retry: [1, 2], rejected: [{ index: 0, reason: 'big' }] });
  assert.deepEqual(liftPrefixResult({ kind: 'retryable', reason: 'x' }, 1, 3), { kind: 'retryable', reason: 'x' });
  assert.deepEqual(liftPrefixResult({ kind: 'paused', reason: 'x' }, 1, 3), { kind: 'paused', reason: 'x' });
  assert.deepEqual(liftPrefixResult({ kind: 'ok' }, 3, 3), { kind: 'ok' });
});
