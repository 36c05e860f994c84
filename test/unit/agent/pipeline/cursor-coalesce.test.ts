import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import { decodeCursor } from '../../../../agent/pipeline/cursor-store.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { defer, outputConfig, pipelineOptions, sequences, tempState, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

/** The next seq the output's cursor file on disk says to deliver (0 when there is none yet). */
async function cursorOnDisk(dir: string, name: string): Promise<number> {
  const text = await readFile(join(dir, 'spool', 'cursors', `${name}.cursor`), 'utf8').catch(() => '');
  const r = decodeCursor(text);
  return r.kind === 'ok' ? r.pos.seq : 0;
}

test('a stream of small batches writes the cursor once per fsync_interval, not per batch; shutdown writes the exact cursor and a restart sends nothing twice', async (t) => {
  const dir = await tempState(t);
  const a = new MemoryTransport();
  const spool = { fsync_interval: 60_000 };
  const p = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: a, config: outputConfig('memory', { batch: { max_events: 10, max_wait: 5 } }) }], { spool }));
  defer(t, () => p.shutdown());
  await p.start();
  await p.accept(testDoc(1));
  await waitFor('the first batch persisted at once', async () => await cursorOnDisk(dir, 'a') === 2);
  for (let i = 2; i <= 500; i++) await p.accept(testDoc(i));
  await waitFor('delivery', () => a.delivered.length === 500);
  assert.ok(a.calls >= 50, `small batches: ${a.calls} sends`);
  // Dozens of batches acknowledged within the interval: none of them rewrote the cursor.
  assert.equal(await cursorOnDisk(dir, 'a'), 2);
  await p.shutdown();
  assert.equal(await cursorOnDisk(dir, 'a'), 501, 'shutdown persists where the output got to');

  const a2 = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: a2 }], { spool }));
  defer(t, () => p2.shutdown());
  await p2.start();
  await p2.accept(testDoc(501));
  await waitFor('delivery after restart', () => a2.delivered.length >= 1);
  assert.deepEqual(sequences(a2.delivered), [501]);
});
