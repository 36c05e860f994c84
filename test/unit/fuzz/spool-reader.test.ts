// Fuzzing the spool's frame reader: segment files whose bytes were damaged (a torn write, a bad
// disk, a hostile edit), including frames whose checksum holds over nonsense (a flag byte or a
// target list no agent wrote). Reading and recovery may count frames as lost; they never throw.
import { test } from 'node:test';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { silentLogger } from '../../../agent/log/logger.js';
import { CursorStore } from '../../../agent/pipeline/cursor-store.js';
import { Lane } from '../../../agent/pipeline/lane.js';
import { decodeFrame, encodeFrame, frameIsFor, HEADER_BYTES, segmentName } from '../../../agent/pipeline/spool/frame.js';
import { LaneReader } from '../../../agent/pipeline/spool/reader.js';
import { scanSpool } from '../../../agent/pipeline/spool/recovery.js';
import { fuzz, fuzzAsync, mutated } from './support.js';

/** A frame with a valid checksum over any flags and payload bytes (what only a bug or an attacker writes). */
const checksummed = fc.tuple(fc.nat(255), fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([t, v]) => Buffer.from(`${JSON.stringify(t)}\n${JSON.stringify(v)}`)),
)).map(([flags, payload]) => {
  const b = Buffer.alloc(HEADER_BYTES + payload.length);
  b.writeUInt32LE(payload.length, 0);
  b.writeUInt32LE(1, 8);
  b.writeUInt8(flags, 24);
  payload.copy(b, HEADER_BYTES);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
});

const good = Buffer.concat([
  encodeFrame(1, 1, 0, '{"a":1}'), encodeFrame(2, 2, 0, '{"b":2}', ['out']), encodeFrame(3, 3, 0, '{"c":3}', ['other']), encodeFrame(4, 4, 0, '{"d":4}'),
]);
/** Segment bytes: a recorded good segment mutated, or good frames with a checksummed oddity among them. */
const segment = fc.oneof(
  mutated(good),
  fc.tuple(fc.array(checksummed, { maxLength: 3 }), fc.nat(3)).map(([odd, at]) => Buffer.concat([good.subarray(0, at * 30), ...odd, good.subarray(at * 30)])),
);

test('fuzz decodeFrame and frameIsFor on damaged and checksummed-nonsense frames: never throw', () => {
  fuzz(fc.oneof(segment, checksummed), (b) => {
    for (let off = 0; off < b.length;) {
      const r = decodeFrame(b, off);
      if (r.kind !== 'frame') break;
      frameIsFor(r.frame, 'out');
      off += r.frame.bytes;
    }
  });
});

test('fuzz the lane reader and start-up recovery over damaged segment files: never throw', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-fuzz-spool-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const lane = new Lane('out', 'file', new CursorStore(join(dir, 'cursors'), 'out', false, () => undefined, undefined));
  const path = join(dir, segmentName(1));
  await fuzzAsync(fc.tuple(segment, fc.nat(4)), async ([bytes, from]) => {
    writeFileSync(path, bytes);
    const seg = { id: 1, path, bytes: bytes.length, firstSeq: 1, lastSeq: 4, count: 4 };
    const reader = new LaneReader(() => [seg], lane, silentLogger);
    try {
      await reader.read({ seq: from + 1, segment: 1, offset: 0 }, 10, 1024 * 1024);
    } finally {
      await reader.close();
    }
  });
  const scanDir = join(dir, 'scan');
  mkdirSync(scanDir);
  await fuzzAsync(segment, async (bytes) => {
    writeFileSync(join(scanDir, segmentName(1)), bytes);
    await scanSpool(scanDir, 5, () => undefined);
  }, undefined, 500);
});
