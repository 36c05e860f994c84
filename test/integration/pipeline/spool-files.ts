import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeFrame } from '../../../agent/pipeline/spool/frame.js';

export interface FrameAt { seq: number; offset: number; bytes: number }
export interface SegmentFile { name: string; path: string; frames: FrameAt[]; size: number }

/** The spool's segment files and the frames in each, read with the real decoder. */
export async function listSegments(stateDir: string): Promise<SegmentFile[]> {
  const dir = join(stateDir, 'spool');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
  const out: SegmentFile[] = [];
  for (const name of names) {
    const buf = await readFile(join(dir, name));
    const frames: FrameAt[] = [];
    for (let off = 0; off < buf.length;) {
      const r = decodeFrame(buf, off);
      if (r.kind !== 'frame') break;
      frames.push({ seq: r.frame.seq, offset: off, bytes: r.frame.bytes });
      off += r.frame.bytes;
    }
    out.push({ name, path: join(dir, name), frames, size: buf.length });
  }
  return out;
}
