import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpooledEvent } from '../../../agent/pipeline/outbound.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { ndjsonBytes } from '../../../transports/shared/ndjson.js';
import type { OutboundEvent } from '../../../transports/types.js';

test('ndjson: spooled bytes are written as they are, string-only events encoded; one line each, UTF-8 intact', () => {
  const docs = [
    { message: 'caf\u00e9 \u2603 \u{1F600}', n: 1 },
    { message: 'plain', n: 2 },
    { message: 'line\nbreak escaped', n: 3 },
  ];
  const spooled = new SpooledEvent(Buffer.from(JSON.stringify(docs[0]), 'utf8'));
  const stringOnly: OutboundEvent = { doc: docs[1] as unknown as EcsDocument, json: JSON.stringify(docs[1]) };
  const third = new SpooledEvent(Buffer.from(JSON.stringify(docs[2]), 'utf8'));
  const out = ndjsonBytes([spooled, stringOnly, third]);
  const text = out.toString('utf8');
  assert.equal(text, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  assert.deepEqual(text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), docs);
  assert.equal(out.length, Buffer.byteLength(text), 'the size counted for rotation is the bytes written');
  assert.equal(ndjsonBytes([]).length, 0);
});
