import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { sampleBuilder } from '../../../agent/ecs/samples.js';
import { heartbeatSchema, metricsSchema, outputCommonShape, spoolSchema } from '../../../agent/pipeline/config.js';
import { createPipeline } from '../../../agent/pipeline/index.js';
import { httpConfigSchema } from '../../../transports/http/config.js';
import { createHttpTransport } from '../../../transports/http/transport.js';
import { ElasticsearchPeer } from './peers/elasticsearch-peer.js';
import { idOf, makeEvents, testContext } from './support.js';
import { waitFor } from '../../helpers/wait.js';

// The http output behind the real delivery pipeline: spool, dispatcher, backoff, dead letters.

// In-band agent events come from the real document builder.
const agentEvent = sampleBuilder().builder.agentEvent;

test('pipeline + elasticsearch: item 429s, a mapping error, a whole-request 429 and a 413; every event indexed once or dead-lettered with its reason', async (t) => {
  const es = await ElasticsearchPeer.start({ maxBodyBytes: 20_000 });
  t.after(() => es.close());
  const stateDir = await mkdtemp(join(tmpdir(), 'pw-http-pipeline-'));
  const alive = setInterval(() => undefined, 1000); // the pipeline's timers are unref'd
  const { ctx, logger } = testContext('es');
  const raw = { type: 'http', url: es.url, format: 'elasticsearch', retry: { initial: '50ms', max: '200ms' }, batch: { max_wait: '20ms', max_events: 100 } };
  const config = httpConfigSchema.extend(z.strictObject(outputCommonShape).shape).parse(raw);
  const pipeline = createPipeline({
    stateDir, logger, agentEvent, sendTimeoutMs: 10_000, shutdownTimeoutMs: 5000,
    spool: spoolSchema.parse({}), metrics: metricsSchema.parse({}), heartbeat: heartbeatSchema.parse({ enabled: false }),
    outputs: [{ name: 'es', config, transport: createHttpTransport(config, ctx) }],
  });
  t.after(async () => {
    await pipeline.shutdown();
    clearInterval(alive);
    await rm(stateDir, { recursive: true, force: true });
  });

  const events = makeEvents(60, { padBytes: 300 });
  const busy = idOf(events[5]!);
  const bad = idOf(events[7]!);
  es.itemAnswers.set(busy, [{ status: 429 }, { status: 503 }]);
  es.itemAnswers.set(bad, [{ status: 400, type: 'mapper_parsing_exception', reason: 'failed to parse field [destination.port]' }]);
  es.requestAnswers.push({ status: 429, retryAfter: '1' });
  await pipeline.start();
  for (const e of events) await pipeline.accept(e.doc);

  const stats = await waitFor('every event resolved', () => {
    const o = pipeline.stats().outputs.find((x) => x.name === 'es');
    return o !== undefined && o.queuedEvents === 0 && o.sent + o.deadLettered >= 60 ? o : undefined;
  }, 30_000, 20);
  assert.equal(stats.deadLettered, 1);
  assert.equal(stats.sent, 59);
  const indexed = new Set(es.docs().map((d) => (d.event as { id: string }).id));
  assert.deepEqual(indexed, new Set(events.map(idOf).filter((id) => id !== bad)));
  assert.deepEqual(es.resentAfterAck, [], 'nothing Elasticsearch acknowledged was sent again');
  assert.ok(es.requests.some((r) => r.req.body.length > 20_000), 'a request was refused with 413');
  const after413 = es.requests.filter((r) => r.ops.length > 0);
  assert.ok(after413.every((r) => r.req.body.length <= 20_000));

  const lines = (await readFile(join(stateDir, 'dead-letter', 'es.ndjson'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, 1);
  const letter = JSON.parse(lines[0]!) as { reason: string; event: { event: { id: string } } };
  assert.equal(letter.event.event.id, bad);
  assert.equal(letter.reason, 'elasticsearch: HTTP 400 mapper_parsing_exception: failed to parse field [destination.port]');
});
