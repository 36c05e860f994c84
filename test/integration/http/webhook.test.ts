import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebhookPeer } from './peers/webhook-peer.js';
import { deliver, makeEvents, makeHttp, reasonOf, retryAfterOf } from './support.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }, cfg: Record<string, unknown> = {}) {
  const peer = await WebhookPeer.start();
  const { transport } = makeHttp({ url: peer.url, format: 'ndjson', ...cfg });
  t.after(async () => { await transport.shutdown(); await peer.close(); });
  return { peer, transport };
}

test('NDJSON webhook: one unchanged document per line, no gzip by default, Bearer token', async (t) => {
  const { peer, transport } = await setup(t, { token: 'hook-secret', headers: { 'x-tenant': 'soc-1' } });
  const events = makeEvents(3);
  assert.deepEqual(await transport.send(events, new AbortController().signal), { kind: 'ok' });
  const req = peer.requests[0]!;
  assert.equal(req.path, '/ingest');
  assert.equal(req.headers['content-encoding'], undefined);
  assert.equal(req.headers['content-type'], 'application/x-ndjson');
  assert.equal(req.headers.authorization, 'Bearer hook-secret');
  assert.equal(req.headers['x-tenant'], 'soc-1');
  assert.equal(req.body.toString(), events.map((e) => `${e.json}\n`).join(''));
});

test('408, 429 with Retry-After and 500 are retried; the batch arrives once', async (t) => {
  const { peer, transport } = await setup(t, { gzip: true });
  peer.statuses.push({ status: 408 }, { status: 429, retryAfter: '3' }, { status: 500 });
  const events = makeEvents(4);
  const report = await deliver(transport, events);
  assert.deepEqual(report.results.map((r) => r.kind), ['retryable', 'retryable', 'retryable', 'ok']);
  assert.equal(retryAfterOf(report.results[1]), 3000);
  assert.deepEqual(peer.received, events.map((e) => JSON.parse(e.json) as unknown));
  assert.equal(peer.requests[0]?.headers['content-encoding'], 'gzip');
});

test('400 dead-letters the batch; 401 and 404 pause', async (t) => {
  const { peer, transport } = await setup(t);
  peer.statuses.push({ status: 400 }, { status: 401 }, { status: 404 });
  const events = makeEvents(2);
  const dead = await deliver(transport, events);
  assert.equal(dead.deadLettered.size, 2);
  assert.match([...dead.deadLettered.values()][0] ?? '', /webhook: HTTP 400/);
  const auth = await transport.send(events, new AbortController().signal);
  assert.equal(auth.kind, 'paused');
  const url = await transport.send(events, new AbortController().signal);
  assert.equal(url.kind, 'paused');
  assert.match(reasonOf(url), /HTTP 404: check the url/);
  assert.equal(peer.received.length, 0);
});
