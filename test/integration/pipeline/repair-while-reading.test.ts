import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../../agent/log/logger.js';
import { spoolSchema } from '../../../agent/pipeline/config.js';
import { CursorStore } from '../../../agent/pipeline/cursor-store.js';
import { Lane } from '../../../agent/pipeline/lane.js';
import { encodeFrame, HEADER_BYTES, segmentName } from '../../../agent/pipeline/spool/frame.js';
import { LaneReader } from '../../../agent/pipeline/spool/reader.js';
import { Spool } from '../../../agent/pipeline/spool/spool.js';
import { defer, tempState } from '../../unit/agent/pipeline/support.js';
import { fill as fillDisk, mountTmpfs, unmount } from '../../helpers/disk.js';

const seqs = (from: number, to: number, skip?: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((n) => n !== skip);

// A damaged segment left unrepaired on a full disk (a real tmpfs filled to the last byte) is
// rewritten once space returns, which moves the frames after the damage. A reader that already
// holds a place past the damage (a dispatcher lingering for more before handing its batch over,
// so lane.readPos has not moved yet) must go on from the next event, neither skipping nor
// repeating one.
test('a reader past the damage of an unrepaired segment loses no event when the repair is retried under it', async (t) => {
  const state = join(await tempState(t), 'state');
  mountTmpfs(state, '1m');
  defer(t, () => { unmount(state); return Promise.resolve(); });
  const dir = join(state, 'spool');
  await mkdir(dir);
  const frames = Array.from({ length: 40 }, (_, i) => encodeFrame(i + 1, 0, 0, JSON.stringify({ n: i + 1, pad: 'x'.repeat(200) })));
  const victim = frames[10]!;
  victim[HEADER_BYTES + 5] = (victim[HEADER_BYTES + 5] ?? 0) ^ 0xff;
  await writeFile(join(dir, segmentName(1)), Buffer.concat(frames));
  const filler = join(state, 'filler');
  assert.ok(fillDisk(filler, true) > 0);

  const spool = new Spool(dir, spoolSchema.parse({}), { now: Date.now, logger: silentLogger, fault: undefined, onWritten: () => undefined });
  defer(t, () => spool.close());
  const report = await spool.open(() => undefined);
  assert.deepEqual(report.unrepaired.map((u) => u.name), [segmentName(1)]);
  const lane = new Lane('out', 'memory', new CursorStore(join(dir, 'cursors'), 'out', false, () => undefined, undefined));
  spool.lanes = [lane];
  const reader = new LaneReader(() => spool.segments, lane, silentLogger);
  defer(t, () => reader.close());
  const first = await reader.read(lane.readPos, 20, 1 << 20);
  assert.deepEqual(first.frames.map((f) => f.seq), seqs(1, 21, 11));

  await rm(filler);
  await rm(`${filler}.tail`, { force: true });
  await spool.tick();
  assert.equal(spool.segments[0]?.unrepaired, undefined, 'the retried repair rewrote the segment');

  const rest = await reader.read(first.end, 100, 1 << 20);
  assert.deepEqual(rest.frames.map((f) => f.seq), seqs(22, 40), 'the same reader (its file still open)');
  const fresh = new LaneReader(() => spool.segments, lane, silentLogger);
  defer(t, () => fresh.close());
  const again = await fresh.read(first.end, 100, 1 << 20);
  assert.deepEqual(again.frames.map((f) => f.seq), seqs(22, 40), 'a reader opening the file anew');
  assert.equal(lane.dropped.corrupt, undefined, 'nothing counted as damaged while running');
});
