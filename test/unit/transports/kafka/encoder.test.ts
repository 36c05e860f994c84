import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeBatch, encodeEvent, renderTopic } from '../../../../transports/kafka/encoder.js';
import { alertEvent, bigEvent, listenerEvent, outbound, processEvent } from '../../../../testkit/samples/kafka.js';

const opts = { topic: 'siem-{event.dataset}', keyField: 'host.id', maxMessageBytes: 1_000_000 };

test('record: key host.id, the JSON text as value, dataset and kind headers, topic from the placeholder', () => {
  const ev = outbound(alertEvent(1));
  const e = encodeEvent(ev, opts);
  assert.ok(e.ok);
  assert.equal(e.topic, 'siem-portwarden.alerts');
  assert.equal(e.record.key, (ev.doc.host as { id: string }).id);
  assert.equal(e.record.value, ev.json);
  assert.deepEqual(e.record.headers, { 'event.dataset': 'portwarden.alerts', 'event.kind': 'alert' });
});

test('no key when key is empty or the field is absent', () => {
  const ev = outbound(listenerEvent());
  assert.equal((encodeEvent(ev, { ...opts, keyField: '' }) as { record: { key: unknown } }).record.key, null);
  assert.equal((encodeEvent(ev, { ...opts, keyField: 'container.id' }) as { record: { key: unknown } }).record.key, null);
});

test('topic placeholders: illegal characters become _, a missing field refuses the event with a reason', () => {
  const doc = listenerEvent();
  doc.host = { ...(doc.host as object), name: 'web 01/eu' };
  assert.deepEqual(renderTopic('siem-{host.name}', outbound(doc)), { topic: 'siem-web_01_eu' });
  const e = encodeEvent(outbound(doc), { ...opts, topic: 'siem-{container.id}' });
  assert.deepEqual(e, { ok: false, reason: 'topic siem-{container.id}: the event has no container.id' });
});

test('an event larger than max_message_bytes is refused with its size', () => {
  const e = encodeEvent(outbound(bigEvent(5000)), { ...opts, maxMessageBytes: 4096 });
  assert.equal(e.ok, false);
  assert.match((e as { reason: string }).reason, /^record of \d{4} bytes is larger than max_message_bytes \(4096\)$/);
  assert.ok(encodeEvent(outbound(bigEvent(3000)), { ...opts, maxMessageBytes: 4096 }).ok);
});

test('encodeBatch: every batch index lands exactly once, in a topic group (in order) or rejected', () => {
  const makers = [() => listenerEvent(), () => alertEvent(), () => processEvent(), () => bigEvent(3000)];
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 40 }), (kinds) => {
    const batch = kinds.map((k) => outbound((makers[k] ?? makers[0] ?? listenerEvent)()));
    const enc = encodeBatch(batch, { ...opts, maxMessageBytes: 2048 });
    const seen = [...enc.indices.flat(), ...enc.rejected.map((r) => r.index)].sort((a, b) => a - b);
    assert.deepEqual(seen, batch.map((_, i) => i));
    for (const [ti, t] of enc.topics.entries()) {
      const ix = enc.indices[ti] ?? [];
      assert.deepEqual(ix, [...ix].sort((a, b) => a - b), 'order within a topic is the batch order');
      t.messages.forEach((m, j) => { assert.equal(m.value, batch[ix[j] ?? -1]?.json); });
    }
    assert.deepEqual(enc.rejected.map((r) => r.index), kinds.flatMap((k, i) => (k === 3 ? [i] : [])));
  }));
});
