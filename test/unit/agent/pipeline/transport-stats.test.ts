import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipeline, renderPrometheus } from '../../../../agent/pipeline/index.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { defer, pipelineOptions, tempState, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

test("a transport's own counters appear in the pipeline stats and on the metrics endpoint", async (t) => {
  const dir = await tempState(t);
  const inner = new MemoryTransport();
  let truncated = 0;
  // A transport with counters of its own, as the syslog output has (truncated, resent, connected).
  const counting = Object.assign(Object.create(inner) as MemoryTransport, {
    stats: () => ({ truncated, connected: true, note: 'not a number' }),
  });
  const p = createPipeline(pipelineOptions(dir, [{ name: 'relay', transport: counting }]));
  defer(t, () => p.shutdown());
  await p.start();
  truncated = 3;
  await p.accept(testDoc(1));
  await waitFor('delivery', () => p.stats().outputs[0]?.sent === 1);
  assert.deepEqual(p.stats().outputs[0]?.transport, { truncated: 3, connected: true });
  const text = renderPrometheus(p.stats());
  assert.match(text, /^portwarden_output_transport\{output="relay",name="truncated"\} 3$/m);
  assert.match(text, /^portwarden_output_transport\{output="relay",name="connected"\} 1$/m);
});
