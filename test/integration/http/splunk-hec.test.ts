import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SplunkHecPeer } from './peers/splunk-hec-peer.js';
import type { SplunkHecPeerOptions } from './peers/splunk-hec-peer.js';
import { deliver, idOf, makeEvents, makeHttp, reasonOf } from './support.js';

const TOKEN = '11111111-2222-3333-4444-555555555555';

async function setup(t: { after: (fn: () => Promise<void>) => void }, peerOpts: Partial<SplunkHecPeerOptions> = {}, cfg: Record<string, unknown> = {}) {
  const peer = await SplunkHecPeer.start({ token: TOKEN, ...peerOpts });
  const { transport } = makeHttp({ url: peer.url, format: 'splunk_hec', token: TOKEN, ...cfg });
  await transport.start();
  t.after(async () => { await transport.shutdown(); await peer.close(); });
  return { peer, transport };
}

test('HEC envelopes: time with fraction, host, source, sourcetype per dataset, index, the ECS document unchanged', async (t) => {
  const { peer, transport } = await setup(t, {}, { index: 'security' });
  const events = makeEvents(4);
  assert.deepEqual(await transport.send(events, new AbortController().signal), { kind: 'ok' });
  const req = peer.requests[0]!;
  assert.equal(req.headers['content-encoding'], 'gzip');
  assert.match(req.body.toString(), /^\{"time":1795773600\.123456,"host":"web-01\.example\.org"/);
  assert.deepEqual(peer.events.map((e) => e.envelope.sourcetype), ['portwarden:network', 'portwarden:process', 'portwarden:alert', 'portwarden:agent']);
  for (const [i, e] of peer.events.entries()) {
    assert.equal(e.envelope.source, 'portwarden');
    assert.equal(e.envelope.index, 'security');
    assert.equal(e.envelope.host, 'web-01.example.org');
    assert.equal(e.envelope.time, Number(`${Math.floor(Date.parse(events[i]!.doc['@timestamp']) / 1000)}.123456`));
    assert.deepEqual(e.envelope.event, JSON.parse(events[i]!.json));
  }
});

test('a wrong token pauses the output and the reason does not contain the token', async (t) => {
  const peer = await SplunkHecPeer.start({ token: TOKEN });
  const { transport } = makeHttp({ url: peer.url, format: 'splunk_hec', token: 'not-the-token' });
  t.after(async () => { await transport.shutdown(); await peer.close(); });
  const r = await transport.send(makeEvents(2), new AbortController().signal);
  assert.equal(r.kind, 'paused');
  assert.match(reasonOf(r), /HTTP 403 code 4 Invalid token/);
  assert.doesNotMatch(JSON.stringify(r), /not-the-token/);
  assert.equal(peer.events.length, 0);
});

test('503 server busy is retried; every event arrives exactly once', async (t) => {
  const { peer, transport } = await setup(t);
  peer.busy = 2;
  const events = makeEvents(6);
  const report = await deliver(transport, events);
  assert.deepEqual(report.results.map((r) => r.kind), ['retryable', 'retryable', 'ok']);
  assert.match(reasonOf(report.results[0]), /HTTP 503 code 9 Server is busy/);
  assert.deepEqual(peer.events.map((e) => e.envelope.event.event), events.map((e) => e.doc.event));
});

test('indexer acknowledgement: send resolves ok only once /services/collector/ack says true', async (t) => {
  const { peer, transport } = await setup(t, { ack: true }, { indexer_ack: true });
  peer.ackPlan = { afterQueries: 3 };
  const r = await transport.send(makeEvents(3), new AbortController().signal);
  assert.deepEqual(r, { kind: 'ok' });
  assert.ok(peer.acknowledged.has(0), 'the peer had answered true for ackId 0 before send resolved');
  assert.equal(peer.ackQueries, 4, 'three "false" answers, then "true"');
  const channel = peer.events[0]?.channel ?? '';
  assert.match(channel, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.ok(peer.requests.every((q) => q.headers['x-splunk-request-channel'] === channel), 'one channel for events and ack queries');
  // A second batch gets the next ackId on the same channel.
  peer.ackPlan = { afterQueries: 0 };
  assert.deepEqual(await transport.send(makeEvents(1), new AbortController().signal), { kind: 'ok' });
  assert.ok(peer.acknowledged.has(1));
});

test('an ack that never turns true is retryable after ack_timeout; the re-send is acknowledged', async (t) => {
  const { peer, transport } = await setup(t, { ack: true }, { indexer_ack: true, ack_timeout: '300ms' });
  peer.ackPlan = 'never';
  const events = makeEvents(2);
  const first = await transport.send(events, new AbortController().signal);
  assert.equal(first.kind, 'retryable');
  assert.match(reasonOf(first), /ackId 0 not acknowledged within 300 ms/);
  peer.ackPlan = { afterQueries: 0 };
  assert.deepEqual(await transport.send(events, new AbortController().signal), { kind: 'ok' });
  // At least once: the unacknowledged copy and the acknowledged one.
  assert.deepEqual(peer.events.map((e) => [e.ackId, idOf({ doc: e.envelope.event as never, json: '' })]), [
    [0, idOf(events[0]!)], [0, idOf(events[1]!)], [1, idOf(events[0]!)], [1, idOf(events[1]!)],
  ]);
});

test('an aborted ack wait resolves retryable at once', async (t) => {
  const { peer, transport } = await setup(t, { ack: true }, { indexer_ack: true });
  peer.ackPlan = 'never';
  const ac = new AbortController();
  const pending = transport.send(makeEvents(1), ac.signal);
  const deadline = Date.now() + 5000;
  while (peer.ackQueries === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  ac.abort();
  const r = await pending;
  assert.equal(r.kind, 'retryable');
});

test('configuration refusals pause: ack required but not configured, index not allowed for the token', async (t) => {
  const noChannel = await setup(t, { ack: true });
  const r1 = await noChannel.transport.send(makeEvents(1), new AbortController().signal);
  assert.equal(r1.kind, 'paused');
  assert.match(reasonOf(r1), /code 10 Data channel is missing/);
  const badIndex = await setup(t, { allowedIndexes: ['main'] }, { index: 'secret' });
  const r2 = await badIndex.transport.send(makeEvents(2), new AbortController().signal);
  assert.equal(r2.kind, 'paused');
  assert.match(reasonOf(r2), /code 7 Incorrect index/);
  assert.equal(badIndex.peer.events.length, 0);
});

test('indexer_ack on but the token has acknowledgement off: delivered on HTTP 200, one warning', async (t) => {
  const peer = await SplunkHecPeer.start({ token: TOKEN });
  const { transport, logger } = makeHttp({ url: peer.url, format: 'splunk_hec', token: TOKEN, indexer_ack: true });
  t.after(async () => { await transport.shutdown(); await peer.close(); });
  assert.deepEqual(await transport.send(makeEvents(1), new AbortController().signal), { kind: 'ok' });
  assert.deepEqual(await transport.send(makeEvents(1), new AbortController().signal), { kind: 'ok' });
  assert.equal(peer.events.length, 2);
  assert.equal(logger.records.filter((r) => r.level === 'warn' && r.message.includes('no ackId')).length, 1);
  assert.doesNotMatch(JSON.stringify(logger.records), new RegExp(TOKEN));
});
