import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { DeliveryPipeline } from '../../../../agent/pipeline/index.js';
import { Action, Kind } from '../../../../agent/ecs/fields.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { ConfigError } from '../../../../agent/util/errors.js';
import { parseConfig } from '../../../../agent/app/config.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { defer, pipelineOptions, tempState, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }); });
    });
    req.on('error', reject);
    req.end();
  });
}

test('the Prometheus endpoint serves per-output counters on loopback, and is off by default', async (t) => {
  const dir = await tempState(t);
  const m = new MemoryTransport().push({ kind: 'retryable' });
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'siem', transport: m }], { metrics: { listen: '127.0.0.1:0' } }));
  defer(t, () => p.shutdown());
  await p.start();
  for (let i = 1; i <= 3; i++) await p.accept(testDoc(i));
  await waitFor('delivery', () => m.delivered.length === 3);
  const port = p.metricsPort ?? 0;
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  assert.match(r.body, /^portwarden_output_events_sent_total\{output="siem"\} 3$/m);
  assert.match(r.body, /^portwarden_output_send_failures_total\{output="siem",reason="retryable"\} 1$/m);
  assert.match(r.body, /^portwarden_output_retries_total\{output="siem"\} 1$/m);
  assert.match(r.body, /^portwarden_output_queue_events\{output="siem"\} 0$/m);
  assert.match(r.body, /^portwarden_output_state\{output="siem",type="memory"\} 0$/m);
  assert.match(r.body, /^# TYPE portwarden_output_events_dropped_total counter$/m);
  assert.equal((await get(port, '/nope')).status, 404);

  const quiet = new DeliveryPipeline(pipelineOptions(await tempState(t), [{ name: 'x', transport: new MemoryTransport() }]));
  defer(t, () => quiet.shutdown());
  await quiet.start();
  assert.equal(quiet.metricsPort, undefined, 'no port is opened without metrics.listen');
});

test('the heartbeat runs on its cron schedule and carries the counters as event.kind metric', async (t) => {
  const dir = await tempState(t);
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'siem', transport: m }], { heartbeat: { enabled: true, schedule: '* * * * * *' } }));
  defer(t, () => p.shutdown());
  await p.start();
  await p.accept(testDoc(1));
  await waitFor('a scheduled heartbeat', () => m.delivered.some((e) => e.doc.event.action === Action.heartbeat), 5000);
  const hb = m.delivered.find((e) => e.doc.event.action === Action.heartbeat)!.doc;
  assert.equal(hb.event.kind, Kind.metric);
  assert.equal(hb.event.dataset, 'portwarden.agent');
  const stats = (hb.portwarden as { pipeline: { received: number; outputs: { name: string }[] } }).pipeline;
  assert.ok(stats.received >= 1);
  assert.equal(stats.outputs[0]?.name, 'siem');
});

test('a failing output produces one aggregated warning per interval, not one per event', async (t) => {
  const dir = await tempState(t);
  const log = memoryLogger();
  const m = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'siem', transport: m }], { logger: log, warnIntervalMs: 200 }));
  defer(t, () => p.shutdown());
  await p.start();
  for (let i = 1; i <= 50; i++) await p.accept(testDoc(i));
  await waitFor('two summaries', () => log.records.filter((r) => r.message.startsWith('output siem:')).length >= 2);
  const warnings = log.records.filter((r) => r.level === 'warn');
  const failures = p.stats().outputs[0]?.failed.retryable ?? 0;
  assert.ok(failures > warnings.length, `${failures} failures, ${warnings.length} warnings`);
  assert.match(warnings[0]?.message ?? '', /^output siem: \d+ failed send\(s\) \(last: memory: retryable\) in the last 0 s; \d+ queued, state (backoff|open)$/);
});

test('a bad heartbeat schedule is a config error naming the key', () => {
  assert.throws(() => parseConfig({ heartbeat: { schedule: 'every five minutes' } }, 'agent.yaml'),
    (err: unknown) => err instanceof ConfigError && err.keyPath === 'heartbeat.schedule');
});

test('a busy metrics port is logged and delivery goes on', async (t) => {
  const dir = await tempState(t);
  const first = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'a', transport: new MemoryTransport() }], { metrics: { listen: '127.0.0.1:0' } }));
  defer(t, () => first.shutdown());
  await first.start();
  const log = memoryLogger();
  const m = new MemoryTransport();
  const second = new DeliveryPipeline(pipelineOptions(await tempState(t), [{ name: 'b', transport: m }], { logger: log, metrics: { listen: `127.0.0.1:${first.metricsPort ?? 0}` } }));
  defer(t, () => second.shutdown());
  await second.start();
  assert.ok(log.records.some((r) => r.level === 'error' && r.message.includes('metrics endpoint could not listen')));
  await second.accept(testDoc(1));
  await waitFor('delivery', () => m.delivered.length === 1);
});
