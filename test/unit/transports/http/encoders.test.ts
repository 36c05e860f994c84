import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { bulkPath, encodeBulkItem } from '../../../../transports/http/encoder-elasticsearch.js';
import { encodeHecEnvelope, epochSecondsText, hecPaths } from '../../../../transports/http/encoder-splunk.js';
import { encodeNdjsonItem } from '../../../../transports/http/encoder-ndjson.js';
import { itemBytes, itemText, writeItems } from '../../../../transports/http/encoded.js';

function event(dataset: string, extra: Record<string, unknown> = {}) {
  const doc = {
    '@timestamp': '2026-11-27T10:00:00.5Z', ecs: { version: '9.4.0' },
    event: { id: '0193b8f2-7c1e-7000-8000-000000000001', dataset, kind: 'event', action: 'listening_started', module: 'portwarden', created: '', sequence: 1 },
    host: { name: 'db-1' }, ...extra,
  } as unknown as EcsDocument;
  return { doc, json: JSON.stringify(doc) };
}

test('ES: a create action into logs-<dataset>-<namespace> with _id = event.id, then the JSON text unchanged', () => {
  const e = event('portwarden.network');
  assert.equal(itemText(encodeBulkItem(e, { namespace: 'default' })),
    `{"create":{"_index":"logs-portwarden.network-default","_id":"0193b8f2-7c1e-7000-8000-000000000001"}}\n${e.json}\n`);
  assert.match(itemText(encodeBulkItem(event('portwarden.alerts'), { namespace: 'prod' })), /"_index":"logs-portwarden\.alerts-prod"/);
  assert.match(itemText(encodeBulkItem(e, { namespace: 'default', index: 'portwarden-all' })), /"_index":"portwarden-all"/);
});

test('ES: bulk path under the base URL path, with filter_path', () => {
  assert.equal(bulkPath('/'), '/_bulk?filter_path=errors,items.*.status,items.*.error');
  assert.equal(bulkPath('/es/'), '/es/_bulk?filter_path=errors,items.*.status,items.*.error');
  assert.equal(bulkPath('/es/_bulk'), '/es/_bulk?filter_path=errors,items.*.status,items.*.error');
});

test('HEC: envelope fields in order, sourcetype per dataset, event = the JSON text', () => {
  const e = event('portwarden.process');
  assert.equal(itemText(encodeHecEnvelope(e, {})),
    `{"time":1795773600.5,"host":"db-1","source":"portwarden","sourcetype":"portwarden:process","event":${e.json}}\n`);
  assert.match(itemText(encodeHecEnvelope(event('portwarden.alerts'), { index: 'sec' })), /"sourcetype":"portwarden:alert","index":"sec","event":/);
  assert.match(itemText(encodeHecEnvelope(event('portwarden.agent'), {})), /"sourcetype":"portwarden:agent"/);
  assert.match(itemText(encodeHecEnvelope(event('portwarden.network'), {})), /"sourcetype":"portwarden:network"/);
  const parsed = JSON.parse(itemText(encodeHecEnvelope(e, {}))) as { event: unknown };
  assert.deepEqual(parsed.event, e.doc);
});

test('HEC time: epoch seconds keeping every fraction digit, offsets honoured', () => {
  assert.equal(epochSecondsText('2026-11-27T10:00:00.123456Z'), '1795773600.123456');
  assert.equal(epochSecondsText('2026-11-27T10:00:00Z'), '1795773600');
  assert.equal(epochSecondsText('2026-11-27T10:00:00.000Z'), '1795773600');
  assert.equal(epochSecondsText('2026-11-27T11:00:00.25+01:00'), '1795773600.25');
  assert.equal(epochSecondsText('yesterday'), undefined);
});

test('HEC paths from a base URL path', () => {
  assert.deepEqual(hecPaths('/'), { event: '/services/collector/event', ack: '/services/collector/ack' });
  assert.deepEqual(hecPaths('/splunk/services/collector/event'), { event: '/splunk/services/collector/event', ack: '/splunk/services/collector/ack' });
});

test('NDJSON: the JSON text and a newline', () => {
  const e = event('portwarden.network');
  assert.equal(itemText(encodeNdjsonItem(e)), `${e.json}\n`);
});

test('writeItems: one buffer with exactly the UTF-8 bytes of the items, multi-byte text included', () => {
  const items = [event('portwarden.network', { message: 'päckchen ✓ 𝄞' }), event('portwarden.process')].map((e) => encodeBulkItem(e, { namespace: 'default' }));
  const total = items.reduce((n, i) => n + itemBytes(i), 0);
  assert.equal(writeItems(items, 2, total).toString('utf8'), items.map(itemText).join(''));
  assert.equal(writeItems(items, 1, itemBytes(items[0]!)).toString('utf8'), itemText(items[0]!));
});
