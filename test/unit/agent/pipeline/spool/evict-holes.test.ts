import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CursorStore } from '../../../../../agent/pipeline/cursor-store.js';
import { Lane } from '../../../../../agent/pipeline/lane.js';
import { encodeFrame, FrameFlag } from '../../../../../agent/pipeline/spool/frame.js';
import { evictSegment } from '../../../../../agent/pipeline/spool/evict.js';
import type { SegmentInfo } from '../../../../../agent/pipeline/spool/recovery.js';

test('drop_oldest evicting a segment whose damage is only skipped in memory counts and rescues the frames after the damage too', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-evict-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  // Frames 1-3, a bad run (what start-up could not cut out on a full disk), frames 5-6 (6 an alert).
  const f = (seq: number, alert = false): Buffer => encodeFrame(seq, 0, alert ? FrameFlag.alert : 0, `{"n":${seq}}`);
  const before = Buffer.concat([f(1), f(2), f(3)]);
  const bad = Buffer.alloc(40, 0xee);
  const buf = Buffer.concat([before, bad, f(5), f(6, true)]);
  const seg: SegmentInfo = { id: 1, path: join(dir, 'x.seg'), bytes: buf.length, firstSeq: 1, lastSeq: 6, count: 5, holes: [[before.length, before.length + bad.length]], unrepaired: true };
  const next: SegmentInfo = { id: 7, path: join(dir, 'y.seg'), bytes: 0, firstSeq: 7, lastSeq: 6, count: 0 };
  const lane = new Lane('out', 'memory', new CursorStore(dir, 'out', false, () => undefined, undefined));
  lane.received = lane.queuedEvents = 5;
  const rescue = evictSegment(buf, seg, next, [lane]);
  assert.deepEqual(rescue.map((r) => r.frame.seq), [6], 'the alert after the damage is kept');
  assert.equal(lane.dropped.queue_full, 4, 'the 4 other events are counted dropped');
  assert.equal(lane.queuedEvents, 0, 'no phantom queued events');
});
