import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { sampleBuilder } from '../../../agent/ecs/samples.js';
import { memoryLogger } from '../../../agent/log/logger.js';
import { heartbeatSchema, metricsSchema, outputCommonShape, spoolSchema } from '../../../agent/pipeline/config.js';
import { createPipeline } from '../../../agent/pipeline/index.js';
import type { Pipeline } from '../../../agent/pipeline/index.js';
import { SyslogTransport } from '../../../transports/syslog/index.js';
import { syslogConfigSchema } from '../../../transports/syslog/config.js';
import { startRsyslog } from '../../../testkit/peers/rsyslog.js';
import type { RsyslogRecord } from '../../../testkit/peers/rsyslog.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import { alertEvent, listenerEvent, testContext } from '../../../testkit/samples/syslog.js';
import { waitFor } from '../../helpers/wait.js';

// The syslog output behind the real delivery pipeline (spool, dispatcher, backoff, pause).

const OUTAGE_MS = Math.min(Number(process.env.PW_SYSLOG_OUTAGE_MS ?? 10_000), 10_000);
// In-band agent events come from the real document builder.
const agentEvent = sampleBuilder().builder.agentEvent;
const outputSchema = syslogConfigSchema.extend(z.strictObject(outputCommonShape).shape);

async function agent(t: TestContext, stateDir: string, raw: Record<string, unknown>): Promise<{ pipeline: Pipeline; transport: SyslogTransport }> {
  const alive = setInterval(() => undefined, 1000); // the pipeline's timers are unref'd
  const logger = memoryLogger();
  const config = outputSchema.parse({ type: 'syslog', host: '127.0.0.1', retry: { initial: '200ms', max: '1s' }, batch: { max_wait: '20ms', max_events: 50 }, ...raw });
  const transport = new SyslogTransport(config, testContext({ logger }));
  const pipeline = createPipeline({
    stateDir, logger, agentEvent, sendTimeoutMs: 10_000, shutdownTimeoutMs: 5000,
    spool: spoolSchema.parse({}), metrics: metricsSchema.parse({}), heartbeat: heartbeatSchema.parse({ enabled: false }),
    outputs: [{ name: 'syslog', config, transport }],
  });
  t.after(async () => { await pipeline.shutdown(); clearInterval(alive); });
  await pipeline.start();
  return { pipeline, transport };
}

const ids = (recs: RsyslogRecord[], app: string) => recs.filter((r) => r['app-name'] === app)
  .map((r) => (JSON.parse(r.msg) as EcsDocument).event.id);
const outStats = (p: Pipeline) => p.stats().outputs.find((o) => o.name === 'syslog');

test('pipeline over TLS: wrong CA pauses and keeps everything; after a restart with the right CA all of it arrives', async (t) => {
  const pki = await makeTestPki();
  t.after(() => pki.dispose());
  const peer = await startRsyslog(pki);
  t.after(() => peer.dispose());
  const stateDir = await mkdtemp(join(tmpdir(), 'pw-syslog-pipeline-'));
  const docs = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? alertEvent(73) : listenerEvent({ seq: 500 + i })));
  docs.forEach((d, i) => { d.event.id = `pipe-tls-${i}`; });
  const wrong = await agent(t, stateDir, { protocol: 'tls', port: peer.tlsPort, app_name: 'pipe-tls', tls: { ca: pki.otherCa } });
  for (const d of docs) await wrong.pipeline.accept(d);
  await waitFor('the output to pause', () => outStats(wrong.pipeline)?.state === 'paused', 20_000);
  assert.equal(outStats(wrong.pipeline)?.sent, 0);
  assert.ok((outStats(wrong.pipeline)?.queuedEvents ?? 0) >= docs.length);
  await wrong.pipeline.shutdown();
  assert.equal(ids(await peer.records(), 'pipe-tls').length, 0, 'nothing reached rsyslog');

  const right = await agent(t, stateDir, { protocol: 'tls', port: peer.tlsPort, app_name: 'pipe-tls', tls: { ca: pki.ca, server_name: 'localhost' } });
  // After hooks run in the order registered: the state dir goes only after the pipelines stopped.
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const recs = await peer.waitFor((r) => docs.every((d) => ids(r, 'pipe-tls').includes(d.event.id)), 30_000);
  assert.equal(new Set(ids(recs, 'pipe-tls')).size, new Set([...docs.map((d) => d.event.id), ...ids(recs, 'pipe-tls')]).size);
  await waitFor('the queue to drain', () => outStats(right.pipeline)?.queuedEvents === 0, 20_000);
  assert.equal(outStats(right.pipeline)?.state, 'running');
});

test(`pipeline over TCP: rsyslog stopped ${OUTAGE_MS / 1000} s mid-stream, every accepted event arrives`, async (t) => {
  const peer = await startRsyslog();
  t.after(() => peer.dispose());
  const stateDir = await mkdtemp(join(tmpdir(), 'pw-syslog-pipeline-'));
  const { pipeline, transport } = await agent(t, stateDir, { port: peer.tcpPort, app_name: 'pipe-tcp' });
  // After hooks run in the order registered: the state dir goes only after the pipeline stopped.
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const accepted: string[] = [];
  let stop = false;
  const stream = (async () => {
    for (let i = 0; !stop; i++) {
      const d = listenerEvent({ seq: 10_000 + i });
      await pipeline.accept(d);
      accepted.push(d.event.id);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await waitFor('events to flow', () => (outStats(pipeline)?.sent ?? 0) >= 200, 20_000);
  await peer.stop();
  const stoppedAt = Date.now();
  await waitFor('the outage', () => Date.now() - stoppedAt >= OUTAGE_MS, OUTAGE_MS + 5000);
  assert.notEqual(outStats(pipeline)?.state, 'running', JSON.stringify(outStats(pipeline)));
  await peer.start();
  const atRestart = accepted.length;
  await waitFor('the stream to go on', () => accepted.length >= atRestart + 200, 20_000);
  stop = true;
  await stream;
  await waitFor('the queue to drain', () => outStats(pipeline)?.queuedEvents === 0, 60_000);
  const recs = await peer.waitFor((r) => new Set(ids(r, 'pipe-tcp')).size >= accepted.length, 30_000);
  const got = ids(recs, 'pipe-tcp');
  const unique = new Set(got);
  assert.ok(accepted.every((id) => unique.has(id)), 'every accepted event arrived');
  t.diagnostic(`${accepted.length} accepted, ${got.length - unique.size} duplicates, stats ${JSON.stringify(transport.stats())}`);
  assert.ok(got.length - unique.size <= transport.stats().resent + (outStats(pipeline)?.retries ?? 0) * 50);
});
