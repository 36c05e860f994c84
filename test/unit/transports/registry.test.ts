// Adding an output type is a folder under transports/ and one line in transports/registry.ts: the
// registry's constructors and the folders' specs (what validation and the docs read) must agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transportRegistry } from '../../../transports/registry.js';
import { transportSpecs } from '../../../transports/specs.js';
import { outputSchemas } from '../../../agent/app/config-schema.js';

test('every registered output type has a spec of the same type, in registry order, in the config schema', async () => {
  const specs = await transportSpecs();
  assert.deepEqual(specs.map((s) => s.type), transportRegistry.names());
  assert.deepEqual(transportRegistry.names(), ['stdout', 'file', 'http', 'syslog', 'kafka']);
  assert.equal(outputSchemas().length, specs.length);
  for (const s of specs) assert.ok(s.summary.length > 10 && !s.summary.endsWith('.'), `${s.type}: a one-line summary`);
});

test('every registered output type loads a constructor; an unknown type names the known ones', async () => {
  for (const type of transportRegistry.names()) assert.equal(typeof await transportRegistry.get(type), 'function', type);
  assert.throws(() => transportRegistry.get('carrier-pigeon'), (err: unknown) => err instanceof Error
    && (err as { code?: string }).code === 'UNKNOWN_NAME' && /expected one of "stdout", "file", "http", "syslog", "kafka"/.test(err.message));
});
