import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import type { MemoryStep } from '../../../../transports/memory/index.js';
import { assertInvariant, outputConfig, pipelineOptions, sequences, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

const step: fc.Arbitrary<MemoryStep> = fc.oneof(
  { arbitrary: fc.constant<MemoryStep>({ kind: 'ok' }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('retryable' as const), retryAfterMs: fc.integer({ min: 0, max: 5 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('partial' as const), retry: fc.array(fc.nat(9), { maxLength: 4 }), rejected: fc.array(fc.nat(9), { maxLength: 2 }) }), weight: 2 },
  { arbitrary: fc.constant<MemoryStep>({ kind: 'permanent', reason: 'rejected by test' }), weight: 1 },
  { arbitrary: fc.constant<MemoryStep>({ kind: 'hang' }), weight: 1 },
);

const action = fc.oneof(
  fc.record({ type: fc.constant('accept' as const), n: fc.integer({ min: 1, max: 15 }) }),
  fc.record({ type: fc.constant('script' as const), output: fc.nat(1), steps: fc.array(step, { maxLength: 6 }) }),
);

test('random ok/retryable/partial/permanent/hang sequences keep the invariant and deliver at least once', async () => {
  await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
    const dir = await mkdtemp(join(tmpdir(), 'pw-prop-'));
    const outs = [new MemoryTransport(), new MemoryTransport()];
    const cfg = outputConfig('memory', { batch: { max_events: 10, max_wait: 1 }, retry: { initial: 1, max: 4, breaker_threshold: 3 } });
    const p = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: outs[0]!, config: cfg }, { name: 'b', transport: outs[1]!, config: cfg }], { sendTimeoutMs: 20 }));
    // The invariant holds at every step: checked inside each send too.
    for (const o of outs) o.behave(() => { assertInvariant(p.stats()); return { kind: 'ok' }; });
    try {
      await p.start();
      let next = 1;
      for (const a of actions) {
        if (a.type === 'accept') {
          const docs = Array.from({ length: a.n }, () => testDoc(next++));
          await Promise.all(docs.map((d) => p.accept(d)));
        } else {
          outs[a.output]!.push(...a.steps);
        }
        assertInvariant(p.stats());
        await new Promise((r) => setImmediate(r));
      }
      await waitFor('both queues drained', () => p.stats().outputs.every((o) => o.queuedEvents === 0), 20_000);
      const s = p.stats();
      assertInvariant(s);
      for (const [i, o] of outs.entries()) {
        const name = i === 0 ? 'a' : 'b';
        let dead: number[] = [];
        try {
          dead = (await readFile(join(dir, 'dead-letter', `${name}.ndjson`), 'utf8')).trim().split('\n')
            .map((l) => (JSON.parse(l) as { event: { event: { sequence: number } } }).event.event.sequence);
        } catch { /* nothing dead-lettered */ }
        const got = new Set([...sequences(o.delivered), ...dead]);
        for (let n = 1; n < next; n++) assert.ok(got.has(n), `event ${n} neither delivered nor dead-lettered by ${name}`);
        assert.equal(s.outputs[i]?.deadLettered, dead.length, 'dead-letter count matches the file');
        assert.equal(s.outputs[i].sent, o.delivered.length, 'sent counts every acknowledged delivery');
      }
    } finally {
      await p.shutdown();
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  }), { numRuns: 30 });
});
