// The running agent builds outputs from transports/runtime.ts, without the zod schemas of
// transports/registry.ts: both must list the same types with the same constructors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transportRegistry } from '../../../transports/registry.js';
import { transportCreators } from '../../../transports/runtime.js';

test('every registered output type is buildable at run time, with the same constructor', () => {
  const types = transportRegistry.map((t) => t.type);
  assert.equal(new Set(types).size, types.length, 'registry types are unique');
  assert.deepEqual([...types].sort(), Object.keys(transportCreators).sort());
  for (const t of transportRegistry) {
    const create: unknown = Object.getOwnPropertyDescriptor(t, 'create')?.value;
    assert.equal(create, (transportCreators as Record<string, unknown>)[t.type], `${t.type}: same create`);
  }
});
