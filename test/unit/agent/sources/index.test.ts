// The one place that picks a collector by platform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectorFor, sourceRegistry } from '../../../../agent/sources/index.js';

test('each platform gets its collector, anything else the portable one, and every pick is registered', () => {
  assert.equal(collectorFor('linux'), 'linux');
  assert.equal(collectorFor('win32'), 'windows');
  assert.equal(collectorFor('darwin'), 'darwin');
  assert.equal(collectorFor('freebsd'), 'portable');
  assert.equal(collectorFor('aix'), 'portable');
  for (const p of ['linux', 'win32', 'darwin', 'freebsd'] as const) assert.ok(sourceRegistry.has(collectorFor(p)), p);
  assert.deepEqual(sourceRegistry.names(), ['linux', 'windows', 'darwin', 'portable']);
});
