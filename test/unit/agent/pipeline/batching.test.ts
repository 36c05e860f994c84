import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { fileConfigSchema } from '../../../../transports/file/config.js';
import { createFileTransport } from '../../../../transports/file/transport.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import type { OutboundEvent, SendResult, Transport } from '../../../../transports/types.js';
import { assertInvariant, defer, outputConfig, pipelineOptions, sequences, tempState, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

/** Output defaults (batch.linger included) except retries; max_wait far longer than any deadline below. */
const slowFill = (batch: Record<string, unknown> = {}) => outputConfig('file', { batch: { max_wait: '30s', ...batch } });

async function fileLines(path: string): Promise<EcsDocument[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EcsDocument);
}

test('on an idle output an accepted event reaches the file output long before batch.max_wait (30 s)', async (t) => {
  const dir = await tempState(t);
  const path = join(dir, 'out.ndjson');
  const file = createFileTransport(fileConfigSchema.parse({ type: 'file', path }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'file', transport: file, config: slowFill() }]));
  defer(t, () => p.shutdown());
  await p.start();
  // One at a time, as a quiet host produces them: each must leave on its own, not wait for company.
  for (const n of [1, 2, 3]) {
    await p.accept(testDoc(n));
    await waitFor(`event ${n} in the file`, async () => (await fileLines(path)).length === n, 10_000);
  }
  assert.deepEqual((await fileLines(path)).map((d) => d.event.sequence), [1, 2, 3]);
  assertInvariant(p.stats());
});

test('batch.max_wait bounds batch.linger: a long linger never holds an event past max_wait', async (t) => {
  const dir = await tempState(t);
  const m = new MemoryTransport();
  const p = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: m, config: outputConfig('memory', { batch: { max_wait: '200ms', linger: '60s' } }) }]));
  defer(t, () => p.shutdown());
  await p.start();
  await p.accept(testDoc(1));
  await waitFor('delivery within max_wait, not linger', () => m.delivered.length === 1, 20_000);
  assert.deepEqual(sequences(m.delivered), [1]);
});

/** An output whose first send waits for release(): a slow peer with a batch in flight. */
class GatedTransport implements Transport {
  readonly type = 'gated';
  readonly inner = new MemoryTransport();
  private gate: Promise<void> | undefined;
  release: () => void = () => undefined;
  constructor() { this.gate = new Promise((r) => { this.release = r; }); }
  start(): Promise<void> { return this.inner.start(); }
  flush(): Promise<void> { return this.inner.flush(); }
  shutdown(): Promise<void> { this.release(); return this.inner.shutdown(); }
  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    const gate = this.gate;
    this.gate = undefined;
    const r = this.inner.send(batch, signal);
    await gate;
    return r;
  }
}

test('under backlog events that arrive while a batch is in flight go together as the next batch', async (t) => {
  const dir = await tempState(t);
  const out = new GatedTransport();
  const p = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: out, config: slowFill() }]));
  defer(t, () => p.shutdown());
  await p.start();
  await p.accept(testDoc(1));
  await waitFor('the first event in flight on its own', () => out.inner.calls === 1, 10_000);
  // Written one by one while the output is busy, as a trickle from the collectors would be.
  for (let n = 2; n <= 21; n++) await p.accept(testDoc(n));
  out.release();
  await waitFor('the backlog delivered', () => out.inner.delivered.length === 21, 10_000);
  assert.deepEqual(out.inner.batches, [1, 20], 'the 20 queued events went as one batch');
  assert.deepEqual(sequences(out.inner.delivered), Array.from({ length: 21 }, (_, i) => i + 1));
  assertInvariant(p.stats());
});

test('batch.linger defaults to 5 ms, accepts 0 and durations', () => {
  assert.equal(outputConfig('file', { batch: {} }).batch.linger, 5);
  assert.equal(outputConfig('file', { batch: { linger: 0 } }).batch.linger, 0);
  assert.equal(outputConfig('file', { batch: { linger: '20ms' } }).batch.linger, 20);
  assert.throws(() => outputConfig('file', { batch: { linger: 'soon' } }), /duration/);
});
