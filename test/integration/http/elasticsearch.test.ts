import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ElasticsearchPeer } from './peers/elasticsearch-peer.js';
import { deliver, idOf, makeEvents, makeHttp, reasonOf, retryAfterOf } from './support.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }, peerOpts = {}, cfg: Record<string, unknown> = {}) {
  const peer = await ElasticsearchPeer.start(peerOpts);
  const { transport, logger } = makeHttp({ url: peer.url, format: 'elasticsearch', ...cfg });
  await transport.start();
  t.after(async () => { await transport.shutdown(); await peer.close(); });
  return { peer, transport, logger };
}

test('mixed per-item answers: 429 retried alone, 400 dead-lettered with the reason, 409 counts as delivered', async (t) => {
  const { peer, transport } = await setup(t);
  const events = makeEvents(8);
  const [e0, e1, e2, e3] = events.map(idOf);
  peer.itemAnswers.set(e1!, [{ status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' }]);
  peer.itemAnswers.set(e2!, [{ status: 400, type: 'mapper_parsing_exception', reason: 'failed to parse field [destination.port] of type [long]' }]);
  peer.indices.set('logs-portwarden.alerts-default', new Map([[e3!, { already: true }]]));

  const report = await deliver(transport, events);

  assert.deepEqual(report.sends, [events.map(idOf), [e1]], 'only the 429 item is sent a second time');
  assert.deepEqual(report.results[0], {
    kind: 'partial', retry: [1],
    rejected: [{ index: 2, reason: 'elasticsearch: HTTP 400 mapper_parsing_exception: failed to parse field [destination.port] of type [long]' }],
  });
  assert.deepEqual([...report.deadLettered.keys()], [e2]);
  assert.equal(report.delivered.size, 7);
  assert.ok(report.delivered.has(e3!), '409 = already indexed = delivered');
  assert.deepEqual(peer.resentAfterAck, [], 'nothing acknowledged was sent twice');
  // Documents arrive unchanged, in data streams named after event.dataset, with _id = event.id.
  for (const e of events) {
    if (idOf(e) === e2 || idOf(e) === e3) continue;
    const stream = peer.indices.get(`logs-${e.doc.event.dataset}-default`);
    assert.deepEqual(stream?.get(idOf(e)), JSON.parse(e.json));
  }
  assert.ok(peer.requests.every((r) => r.ops.every((op) => op.op === 'create')));
  assert.equal(peer.requests[0]?.ops[0]?.id, e0);
});

test('bodies are gzipped NDJSON with the ES content type, and namespace picks the data stream', async (t) => {
  const { peer, transport } = await setup(t, {}, { namespace: 'prod' });
  const events = makeEvents(4);
  assert.deepEqual(await transport.send(events, new AbortController().signal), { kind: 'ok' });
  const req = peer.requests[0]!.req;
  assert.equal(req.headers['content-encoding'], 'gzip');
  assert.equal(req.headers['content-type'], 'application/x-ndjson');
  assert.ok(req.wireBytes < req.body.length, 'the wire body is smaller than the decoded one');
  assert.deepEqual([...peer.indices.keys()].sort(), [
    'logs-portwarden.agent-prod', 'logs-portwarden.alerts-prod', 'logs-portwarden.network-prod', 'logs-portwarden.process-prod',
  ]);
});

test('whole-request 429 is retryable with Retry-After, then the batch is indexed once', async (t) => {
  const { peer, transport } = await setup(t);
  peer.requestAnswers.push({ status: 429, retryAfter: '7' });
  const events = makeEvents(5);
  const report = await deliver(transport, events);
  assert.equal(report.results[0]?.kind, 'retryable');
  assert.equal(retryAfterOf(report.results[0]), 7000);
  assert.deepEqual(report.results[1], { kind: 'ok' });
  assert.equal(peer.docs().length, 5);
  assert.deepEqual(peer.resentAfterAck, []);
});

test('503 without Retry-After is retryable; the next send succeeds', async (t) => {
  const { peer, transport } = await setup(t);
  peer.requestAnswers.push({ status: 503 });
  const report = await deliver(transport, makeEvents(3));
  assert.deepEqual(report.results.map((r) => r.kind), ['retryable', 'ok']);
  assert.equal(peer.docs().length, 3);
});

test('413 halves the batch: later requests fit, every document is indexed exactly once', async (t) => {
  const events = makeEvents(40, { padBytes: 200 });
  const oneItem = JSON.stringify({ create: { _index: 'logs-portwarden.network-default', _id: idOf(events[0]!) } }).length + events[0]!.json.length + 2;
  const limit = oneItem * 12;
  const { peer, transport } = await setup(t, { maxBodyBytes: limit });
  const report = await deliver(transport, events, 40);
  // One send: 40 items -> 413 -> cap of ~20 -> 413 -> cap of ~10 -> requests of about 10 each.
  assert.deepEqual(report.results, [{ kind: 'ok' }]);
  assert.equal(report.delivered.size, 40);
  assert.equal(peer.docs().length, 40);
  assert.deepEqual(peer.resentAfterAck, []);
  const refused = peer.requests.filter((r) => r.ops.length === 0);
  const accepted = peer.requests.filter((r) => r.ops.length > 0);
  assert.equal(refused.length, 2);
  assert.equal(accepted.reduce((n, r) => n + r.ops.length, 0), 40);
  assert.ok(accepted.every((r) => r.ops.length <= 10 && r.req.body.length <= limit) && accepted.length <= 5,
    `requests of ${accepted.map((r) => r.ops.length).join(', ')}`);
  // The smaller cap stays: the next batch goes out without another refusal.
  assert.deepEqual(await transport.send(makeEvents(20, { padBytes: 200 }), new AbortController().signal), { kind: 'ok' });
  assert.equal(peer.requests.filter((r) => r.ops.length === 0).length, 2);
});

test('a single event refused with 413 is dead-lettered; the cap warning is logged without secrets', async (t) => {
  const { peer, transport, logger } = await setup(t, { maxBodyBytes: 3000, apiKey: 'c2VjcmV0LWtleQ==' }, { api_key: 'c2VjcmV0LWtleQ==' });
  const events = [...makeEvents(2, { padBytes: 1000 }), ...makeEvents(1, { padBytes: 4000 })];
  const report = await deliver(transport, events);
  assert.deepEqual([...report.deadLettered.keys()], [idOf(events[2]!)]);
  assert.match(report.deadLettered.get(idOf(events[2]!)) ?? '', /HTTP 413.*one event of \d+ bytes/);
  assert.equal(peer.docs().length, 2);
  assert.ok(logger.records.some((r) => r.level === 'warn' && r.meta?.cap_bytes !== undefined));
  assert.doesNotMatch(JSON.stringify(logger.records), /c2VjcmV0LWtleQ==/);
});

test('a batch over max_body_bytes goes out in several requests; a failure midway retries exactly the unsent rest', async (t) => {
  const { peer, transport } = await setup(t, {}, { max_body_bytes: 4000 });
  const events = makeEvents(12, { padBytes: 600 });
  assert.deepEqual(await transport.send(events, new AbortController().signal), { kind: 'ok' });
  assert.ok(peer.requests.length >= 3 && peer.requests.every((r) => r.req.body.length <= 4000));
  assert.equal(peer.docs().length, 12);

  const more = makeEvents(12, { padBytes: 600 });
  peer.requestAnswers.push('pass', { status: 503 });
  const before = peer.requests.length;
  const report = await deliver(transport, more);
  const firstChunk = peer.requests[before]?.ops.map((op) => op.id) ?? [];
  assert.ok(firstChunk.length > 0);
  assert.deepEqual(report.results[0], { kind: 'partial', retry: Array.from({ length: 12 - firstChunk.length }, (_, i) => firstChunk.length + i), rejected: [] });
  assert.deepEqual(report.sends[1], more.slice(firstChunk.length).map(idOf), 'the second send carries only what was not delivered');
  assert.equal(report.delivered.size, 12);
  assert.deepEqual(peer.resentAfterAck, []);
});

test('an event alone over max_body_bytes is dead-lettered, the others are delivered', async (t) => {
  const { peer, transport } = await setup(t, {}, { max_body_bytes: 2000 });
  const events = [...makeEvents(1, { padBytes: 5000 }), ...makeEvents(2)];
  const report = await deliver(transport, events);
  assert.match(report.deadLettered.get(idOf(events[0]!)) ?? '', /over max_body_bytes \(2000\)/);
  assert.equal(report.delivered.size, 2);
  assert.equal(peer.docs().length, 2);
});

test('api key and basic authentication; a wrong credential pauses without leaking it', async (t) => {
  const good = await setup(t, { apiKey: 'aWQ6c2VjcmV0' }, { api_key: 'aWQ6c2VjcmV0' });
  assert.deepEqual(await good.transport.send(makeEvents(2), new AbortController().signal), { kind: 'ok' });
  const basic = await setup(t, { basic: { username: 'elastic', password: 'pw' } }, { username: 'elastic', password: 'pw' });
  assert.deepEqual(await basic.transport.send(makeEvents(2), new AbortController().signal), { kind: 'ok' });
  const bad = await setup(t, { apiKey: 'aWQ6c2VjcmV0' }, { api_key: 'd3Jvbmc6a2V5' });
  const r = await bad.transport.send(makeEvents(2), new AbortController().signal);
  assert.equal(r.kind, 'paused');
  assert.match(reasonOf(r), /HTTP 401/);
  assert.doesNotMatch(JSON.stringify(r), /d3Jvbmc6a2V5/);
  assert.doesNotMatch(JSON.stringify(bad.logger.records), /d3Jvbmc6a2V5/);
  assert.equal(bad.peer.docs().length, 0);
});

test('an item refused with 403 pauses the output; after resume the re-sent delivered items answer 409', async (t) => {
  const { peer, transport } = await setup(t);
  const events = makeEvents(3);
  peer.itemAnswers.set(idOf(events[1]!), [{ status: 403, type: 'cluster_block_exception', reason: 'index [logs] blocked by: [FORBIDDEN/8/index write (api)]' }]);
  const first = await deliver(transport, events);
  assert.match(first.paused ?? '', /item 1: HTTP 403 cluster_block_exception/);
  const again = await deliver(transport, events);
  assert.equal(again.delivered.size, 3);
  assert.deepEqual(new Set(peer.resentAfterAck), new Set([idOf(events[0]!), idOf(events[2]!)]), 'only the paused batch is re-sent, answered 409');
  assert.equal(peer.docs().length, 3, 'no document is indexed twice');
});

test('connection refused and a silent server are retryable; an aborted send is retryable', async (t) => {
  const silent = createServer(() => { /* never answers */ });
  await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve); });
  const port = (silent.address() as AddressInfo).port;
  t.after(() => { silent.closeAllConnections(); silent.close(); });
  const slow = makeHttp({ url: `http://127.0.0.1:${port}`, format: 'elasticsearch', timeout: 200 }).transport;
  t.after(() => slow.shutdown());
  const r = await slow.send(makeEvents(1), new AbortController().signal);
  assert.equal(r.kind, 'retryable');
  assert.match(reasonOf(r), /no answer within 200 ms/);

  const ac = new AbortController();
  const pending = makeHttp({ url: `http://127.0.0.1:${port}`, format: 'elasticsearch' }).transport;
  t.after(() => pending.shutdown());
  const p = pending.send(makeEvents(1), ac.signal);
  ac.abort();
  assert.deepEqual(await p, { kind: 'retryable', reason: 'aborted' });

  const peer = await ElasticsearchPeer.start();
  const deadUrl = peer.url;
  await peer.close();
  const refused = makeHttp({ url: deadUrl, format: 'elasticsearch' }).transport;
  t.after(() => refused.shutdown());
  const r2 = await refused.send(makeEvents(1), new AbortController().signal);
  assert.equal(r2.kind, 'retryable');
  assert.match(reasonOf(r2), /ECONNREFUSED/);
});
