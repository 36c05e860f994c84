import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyBulk } from '../../../../transports/http/classify-elasticsearch.js';
import { classifyAck, classifyHec } from '../../../../transports/http/classify-splunk.js';
import { classifyNdjson, retryAfterMs } from '../../../../transports/http/classify-common.js';

const item = (status: number, error?: { type: string; reason: string }) => ({ create: error === undefined ? { status } : { status, error } });
const bulk = (items: unknown[]) => ({ status: 200, body: JSON.stringify({ errors: true, items }) });

test('ES: errors:false is ok without reading items', () => {
  assert.deepEqual(classifyBulk({ status: 200, body: '{"errors":false}' }, 3), { kind: 'ok' });
});

test('ES: per item 201/409 delivered, 429/5xx retried, 400 dead-lettered with type and reason', () => {
  const r = classifyBulk(bulk([
    item(201), item(409, { type: 'version_conflict_engine_exception', reason: 'exists' }), item(429, { type: 'es_rejected_execution_exception', reason: 'queue full' }),
    item(400, { type: 'mapper_parsing_exception', reason: 'failed to parse field [x]' }), item(503, { type: 'unavailable_shards_exception', reason: 'primary not active' }),
    item(400, { type: 'illegal_argument_exception', reason: 'bad value' }),
  ]), 6);
  assert.deepEqual(r, {
    kind: 'partial', retry: [2, 4], rejected: [
      { index: 3, reason: 'elasticsearch: HTTP 400 mapper_parsing_exception: failed to parse field [x]' },
      { index: 5, reason: 'elasticsearch: HTTP 400 illegal_argument_exception: bad value' },
    ],
  });
});

test('ES: item-level 401/403/404 pause; all items 429 is retryable; all same 400 is permanent', () => {
  assert.equal(classifyBulk(bulk([item(201), item(403, { type: 'security_exception', reason: 'unauthorized' })]), 2).kind, 'paused');
  assert.equal(classifyBulk(bulk([item(404, { type: 'index_not_found_exception', reason: 'no such index' })]), 1).kind, 'paused');
  assert.equal(classifyBulk(bulk([item(429), item(429)]), 2).kind, 'retryable');
  assert.deepEqual(classifyBulk(bulk([item(400, { type: 'x', reason: 'y' })]), 1), { kind: 'permanent', reason: 'elasticsearch: HTTP 400 x: y' });
});

test('ES: whole request statuses and malformed answers', () => {
  assert.deepEqual(classifyBulk({ status: 429, retryAfter: '12', body: '' }, 1), { kind: 'retryable', reason: 'elasticsearch: HTTP 429 ', retryAfterMs: 12_000 });
  assert.equal(classifyBulk({ status: 502, body: 'bad gateway' }, 1).kind, 'retryable');
  assert.equal(classifyBulk({ status: 413, body: '' }, 1).kind, 'too_large');
  assert.equal(classifyBulk({ status: 401, body: '{}' }, 1).kind, 'paused');
  assert.equal(classifyBulk({ status: 404, body: '{}' }, 1).kind, 'paused');
  assert.deepEqual(classifyBulk({ status: 400, body: '{"error":{"type":"parse_exception","reason":"bad line"}}' }, 1),
    { kind: 'permanent', reason: 'elasticsearch: HTTP 400 parse_exception: bad line' });
  assert.equal(classifyBulk({ status: 200, body: '<html>' }, 1).kind, 'retryable');
  assert.equal(classifyBulk(bulk([item(201)]), 2).kind, 'retryable', 'item count mismatch is not trusted');
  assert.deepEqual(classifyBulk({ status: 301, location: 'https://es/', body: '' }, 1).kind, 'paused');
});

test('HEC: success, ackId, busy, token, config codes, invalid event number, other 400', () => {
  assert.deepEqual(classifyHec({ status: 200, body: '{"text":"Success","code":0}' }, 2), { kind: 'ok' });
  assert.deepEqual(classifyHec({ status: 200, body: '{"text":"Success","code":0,"ackId":7}' }, 2), { kind: 'accepted', ackId: 7 });
  assert.deepEqual(classifyHec({ status: 503, body: '{"text":"Server is busy","code":9}' }, 2), { kind: 'retryable', reason: 'splunk_hec: HTTP 503 code 9 Server is busy' });
  assert.deepEqual(classifyHec({ status: 401, body: '{"text":"Token is required","code":2}' }, 2), { kind: 'paused', reason: 'splunk_hec: HTTP 401 code 2 Token is required' });
  assert.equal(classifyHec({ status: 403, body: '{"text":"Token disabled","code":1}' }, 2).kind, 'paused');
  assert.equal(classifyHec({ status: 400, body: '{"text":"Incorrect index","code":7}' }, 2).kind, 'paused');
  assert.deepEqual(classifyHec({ status: 400, body: '{"text":"Invalid data format","code":6,"invalid-event-number":1}' }, 3), {
    kind: 'partial', retry: [0, 2], rejected: [{ index: 1, reason: 'splunk_hec: HTTP 400 code 6 Invalid data format' }],
  });
  assert.deepEqual(classifyHec({ status: 400, body: '{"text":"Event field is required","code":12}' }, 3), {
    kind: 'permanent', reason: 'splunk_hec: HTTP 400 code 12 Event field is required',
  });
});

test('HEC ack answers', () => {
  assert.equal(classifyAck({ status: 200, body: '{"acks":{"3":true}}' }, 3), 'acked');
  assert.equal(classifyAck({ status: 200, body: '{"acks":{"3":false}}' }, 3), 'pending');
  assert.equal(classifyAck({ status: 200, body: '{"acks":{}}' }, 3), 'pending');
  assert.equal((classifyAck({ status: 200, body: 'nope' }, 3) as { kind: string }).kind, 'retryable');
  assert.equal((classifyAck({ status: 503, body: '{"text":"Server is busy","code":9}' }, 3) as { kind: string }).kind, 'retryable');
  assert.equal((classifyAck({ status: 400, body: '{"text":"ACK is disabled","code":14}' }, 3) as { kind: string }).kind, 'paused');
  assert.equal((classifyAck({ status: 400, body: '{"text":"x","code":5}' }, 3) as { kind: string }).kind, 'retryable', 'never drop accepted events');
});

test('NDJSON webhook statuses', () => {
  assert.deepEqual(classifyNdjson({ status: 204, body: '' }), { kind: 'ok' });
  for (const s of [408, 429, 500, 503]) assert.equal(classifyNdjson({ status: s, body: '' }).kind, 'retryable', String(s));
  for (const s of [401, 403, 404, 405]) assert.equal(classifyNdjson({ status: s, body: '' }).kind, 'paused', String(s));
  for (const s of [400, 409, 422]) assert.equal(classifyNdjson({ status: s, body: '' }).kind, 'permanent', String(s));
  assert.equal(classifyNdjson({ status: 413, body: '' }).kind, 'too_large');
});

test('Retry-After: delta seconds and HTTP dates', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');
  assert.equal(retryAfterMs('30', now), 30_000);
  assert.equal(retryAfterMs('Fri, 27 Nov 2026 10:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs('Fri, 27 Nov 2026 09:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs(undefined, now), undefined);
});
