import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DocumentBuilder } from '../../../../agent/ecs/builder.js';
import { getField } from '../../../../agent/ecs/document.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { sampleAgent, sampleHost } from '../../../../agent/ecs/samples.js';
import { ProcessTable } from '../../../../agent/lineage/process-table.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import { FakeSource } from '../../../../agent/sources/fake.js';
import { Handoff } from '../../../../agent/watch/handoff.js';
import { Watcher } from '../../../../agent/watch/watcher.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { outputConfig, pipelineOptions, tempState, testDoc } from '../pipeline/support.js';
import { waitFor } from '../../../helpers/wait.js';

/** A sink whose accepts stay pending until released (or failed), in order. */
function heldSink() {
  const pending: { doc: EcsDocument; resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    pending,
    accept(doc: EcsDocument): Promise<void> {
      return new Promise<void>((resolve, reject) => pending.push({ doc, resolve, reject }));
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('handoff: documents go out without waiting for each write; the window-th waits for all of them', async () => {
  const sink = heldSink();
  const h = new Handoff(sink, 3);
  await h.add(testDoc(1));
  await h.add(testDoc(2));
  assert.equal(sink.pending.length, 2, 'two handed over, nothing awaited yet');
  let third = false;
  const p = h.add(testDoc(3)).then(() => { third = true; });
  await tick();
  assert.equal(sink.pending.length, 3);
  assert.equal(third, false, 'a full window waits');
  sink.pending[0]?.resolve();
  sink.pending[1]?.resolve();
  await tick();
  assert.equal(third, false, 'until every document in it is written');
  sink.pending[2]?.resolve();
  await p;
  assert.equal(third, true);
  await h.add(testDoc(4));
  let settled = false;
  const s = h.settle().then(() => { settled = true; });
  await tick();
  assert.equal(settled, false, 'settle waits for the rest');
  sink.pending[3]?.resolve();
  await s;
  assert.deepEqual(sink.pending.map((x) => x.doc.event.sequence), [1, 2, 3, 4], 'handed over in order');
});

test('handoff: documents answered with one shared promise (one spool write) still count one by one', async () => {
  let release!: () => void;
  const shared = new Promise<void>((r) => { release = r; });
  let calls = 0;
  const h = new Handoff({ accept: () => { calls++; return shared; } }, 3);
  await h.add(testDoc(1));
  await h.add(testDoc(2));
  let third = false;
  const p = h.add(testDoc(3)).then(() => { third = true; });
  await tick();
  assert.equal(calls, 3);
  assert.equal(third, false, 'the window is three documents, not three promises');
  release();
  await p;
  assert.equal(third, true);
});

test('handoff: a failure is reported once the window has settled, never as an unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => { unhandled.push(r); };
  process.on('unhandledRejection', onUnhandled);
  t.after(() => { process.off('unhandledRejection', onUnhandled); });
  const sink = heldSink();
  const h = new Handoff(sink, 10);
  await h.add(testDoc(1));
  await h.add(testDoc(2));
  sink.pending[0]?.reject(new Error('spool closed'));
  // Rejected while the window is still filling: nobody awaits it yet.
  await new Promise((r) => setTimeout(r, 20));
  let done = false;
  const s = h.settle().then(() => { done = true; }, (e: unknown) => { done = true; throw e; });
  await tick();
  assert.equal(done, false, 'waits for the second document too');
  sink.pending[1]?.resolve();
  await assert.rejects(s, /spool closed/);
  assert.deepEqual(unhandled, []);
});

test('an inventory through the real pipeline: every document delivered once, in order, in a few output batches', async (t) => {
  const dir = await tempState(t);
  const out = new MemoryTransport();
  const pipeline = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: out, config: outputConfig('memory', { batch: { max_events: 5000, max_wait: 20 } }) }]));
  t.after(() => pipeline.shutdown());
  await pipeline.start();
  const source = new FakeSource();
  const n = 1500;
  source.setProcesses([{ pid: 1, ppid: 0, startKey: '1', start: new Date(1_700_000_000_000).toISOString(), name: 'init' },
    { pid: 100, ppid: 1, startKey: '5', start: new Date(1_700_000_000_050).toISOString(), name: 'server', executable: '/usr/bin/server' }]);
  source.listeners = Array.from({ length: n }, (_, i) => ({ netns: 'n1', transport: 'tcp' as const, family: 'ipv4' as const, address: '0.0.0.0', port: 10_000 + i, inode: 10_000 + i, owners: [100] }));
  let inFlight = 0;
  let maxInFlight = 0;
  const sink = {
    accept: (d: EcsDocument) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return pipeline.accept(d).finally(() => { inFlight--; });
    },
  };
  const watcher = new Watcher({
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }),
    sink, logger: silentLogger, intervalMs: 1000, shipProcesses: false,
  });
  await watcher.tick();
  await waitFor('the first tick delivered', () => out.delivered.length === n);
  const batchesBefore = out.batches.length;
  assert.equal(await watcher.inventory(), n);
  await waitFor('the inventory delivered', () => out.delivered.length === 2 * n);
  const inventory = out.delivered.slice(n).map((e) => e.doc);
  assert.ok(inventory.every((d) => d.event.kind === 'state' && d.event.action === 'listening_existing'));
  assert.deepEqual(inventory.map((d) => getField(d, 'destination.port')), source.listeners.map((l) => l.port), 'every listener once, in order');
  const seq = out.delivered.map((e) => e.doc.event.sequence);
  assert.ok(seq.every((s, i) => i === 0 || s > (seq[i - 1] ?? 0)), 'event.sequence increases across the output');
  assert.ok(maxInFlight > 1 && maxInFlight <= 256, `documents in flight at once: ${maxInFlight}`);
  // One document per spool write used to make one output batch per document.
  assert.ok(out.batches.length - batchesBefore < n / 20, `inventory batches: ${out.batches.length - batchesBefore}`);
});
