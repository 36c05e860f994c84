// Host metadata on this machine, read in-process and in the worker thread the agent uses for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { readHostContext } from '../../../../agent/ecs/host.js';
import { readHostContextInWorker } from '../../../../agent/ecs/host-isolated.js';

test('the worker thread reads the same host metadata as an in-process read', async () => {
  const [inProcess, inWorker] = await Promise.all([readHostContext('fallback-id'), readHostContextInWorker('fallback-id')]);
  assert.deepEqual(inWorker, inProcess);
  assert.equal(inWorker.hostname, hostname().toLowerCase());
  if (process.platform === 'linux') {
    assert.equal(inWorker.os.type, 'linux');
    assert.ok((inWorker.os.kernel ?? '') !== '', `kernel from systeminformation: ${JSON.stringify(inWorker.os)}`);
    assert.ok((inWorker.os.name ?? '') !== '', 'distribution name');
  }
});
