import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaConfigSchema } from '../../../../transports/kafka/config.js';

const parse = (raw: Record<string, unknown>) => kafkaConfigSchema.safeParse({ type: 'kafka', brokers: ['127.0.0.1:9092'], ...raw });

test('defaults: topic per dataset, key host.id, gzip, acks all, 10 s timeout, 1 MB records, auto-create on', () => {
  const r = parse({});
  assert.ok(r.success);
  assert.deepEqual(r.data, {
    type: 'kafka', brokers: ['127.0.0.1:9092'], topic: '{event.dataset}', key: 'host.id', client_id: 'portwarden',
    compression: 'gzip', acks: -1, timeout: 10_000, max_message_bytes: 1_000_000, allow_auto_topic_creation: true,
  });
});

test('acks accepts all, -1, 1 and 0; units parse; sasl and tls blocks', () => {
  assert.equal(parse({ acks: 'all' }).data?.acks, -1);
  assert.equal(parse({ acks: 1 }).data?.acks, 1);
  assert.equal(parse({ acks: 0 }).data?.acks, 0);
  assert.equal(parse({ acks: 2 }).success, false);
  const r = parse({ timeout: '2s', max_message_bytes: '64KiB', sasl: { mechanism: 'plain', username: 'u', password: 'p' }, tls: { ca: 'ca.pem' } });
  assert.ok(r.success);
  assert.equal(r.data.timeout, 2000);
  assert.equal(r.data.max_message_bytes, 65536);
  assert.deepEqual(r.data.sasl, { mechanism: 'plain', username: 'u', password: 'p' });
  assert.deepEqual(r.data.tls, { ca: 'ca.pem', reject_unauthorized: true });
});

test('rejects what cannot work, naming the key', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ topic: 'bad topic!' }, 'topic'],
    [{ topic: 'siem/{event.dataset}' }, 'topic'],
    [{ brokers: [] }, 'brokers'],
    [{ brokers: ['kafka-1'] }, 'brokers'],
    [{ compression: 'zstd' }, 'compression'],
    [{ sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }, 'sasl'],
    [{ sasl: { username: 'u' } }, 'sasl'],
    [{ tls: { cert: 'c.pem' } }, 'tls'],
    [{ linger: '5ms' }, ''],
  ];
  for (const [raw, key] of cases) {
    const r = parse(raw);
    assert.equal(r.success, false, JSON.stringify(raw));
    assert.equal(String(r.error.issues[0]?.path[0] ?? ''), key, JSON.stringify(r.error.issues));
  }
  assert.ok(parse({ topic: 'siem-{event.dataset}.{host.name}' }).success);
});
