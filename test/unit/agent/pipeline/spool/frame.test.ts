import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFrame, encodeFrame, FrameFlag, HEADER_BYTES, parseSegmentName, segmentName } from '../../../../../agent/pipeline/spool/frame.js';
import { crc32 } from 'node:zlib';
import { decodeCursor } from '../../../../../agent/pipeline/cursor-store.js';

test('frames round-trip any text, seq, time and targets', () => {
  fc.assert(fc.property(
    fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true }),
    fc.option(fc.array(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), { maxLength: 3 }), { nil: undefined }),
    (json, seq, time, targets) => {
      const buf = encodeFrame(seq, time, FrameFlag.alert, json, targets);
      const r = decodeFrame(Buffer.concat([Buffer.from('xx'), buf]), 2);
      if (r.kind !== 'frame') assert.fail(`not decoded: ${r.kind}`);
      assert.equal(r.frame.payload.toString('utf8'), json);
      assert.equal(r.frame.seq, seq);
      assert.equal(r.frame.time, time);
      assert.deepEqual(r.frame.targets, targets);
      assert.equal(r.frame.bytes, buf.length);
      assert.ok((r.frame.flags & FrameFlag.alert) !== 0);
    },
  ));
});

test('any single flipped byte or truncation is detected, never decoded as another frame', () => {
  const buf = encodeFrame(42, 1, 0, JSON.stringify({ event: { id: 'abc', sequence: 42 } }));
  fc.assert(fc.property(fc.nat(buf.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
    const bad = Buffer.from(buf);
    bad[at] = (bad[at] ?? 0) ^ x;
    const r = decodeFrame(bad, 0);
    // A flipped length byte may make the frame look longer than the buffer: "short", a torn tail.
    assert.notEqual(r.kind, 'frame');
  }));
  fc.assert(fc.property(fc.nat(buf.length - 1), (len) => {
    assert.equal(decodeFrame(buf.subarray(0, len), 0).kind, 'short');
  }));
});

test('segment names sort by seq and parse back', () => {
  assert.equal(segmentName(12), '0000000000000012.seg');
  assert.equal(parseSegmentName(segmentName(9_007_199_254_740)), 9_007_199_254_740);
  assert.equal(parseSegmentName('0000000000000012.seg.tmp'), undefined);
  assert.ok(segmentName(9) < segmentName(10));
});

test('cursor files with a wrong checksum or fields are rejected', () => {
  assert.equal(decodeCursor('').kind, 'corrupt');
  assert.equal(decodeCursor('{"v":1,"seq":5,"segment":1,"offset":0}\nffff\n').kind, 'corrupt');
  assert.equal(decodeCursor('garbage').kind, 'corrupt');
});

test('fuzz finding: a checksummed frame whose target list is not a list of names is bad, not a TypeError in the reader', () => {
  for (const list of ['false', '{}', '[1]', 'null']) {
    const payload = Buffer.from(`${list}\n[]`);
    const b = Buffer.alloc(HEADER_BYTES + payload.length);
    b.writeUInt32LE(payload.length, 0);
    b.writeUInt32LE(1, 8);
    b.writeUInt8(FrameFlag.targeted, 24);
    payload.copy(b, HEADER_BYTES);
    b.writeUInt32LE(crc32(b.subarray(8)), 4);
    const r = decodeFrame(b, 0);
    assert.equal(r.kind, 'bad', list);
  }
});
