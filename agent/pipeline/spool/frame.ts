import { crc32 } from 'node:zlib';

/**
 * One spool frame: `u32 payload length | u32 crc32(bytes 8..end) | u32 seq low | u32 seq high |
 * f64 append time (ms) | u8 flags | payload`. The checksum covers everything after itself, so a
 * torn or flipped frame is recognised and never delivered as something else.
 */
export const HEADER_BYTES = 25;
/** Larger frames are refused at accept(); a corrupt length above it marks a bad frame at once. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export const FrameFlag = {
  /** An alert or the agent's own report: drop policies never drop it. */
  alert: 1,
  /** The payload starts with a JSON array of the output names that still need it, then `\n`. */
  targeted: 2,
} as const;

export interface Frame {
  seq: number;
  time: number;
  flags: number;
  /** The event's JSON bytes (without the target prefix); a view into the read buffer, not a copy. */
  payload: Buffer;
  /** Output names the frame is for; undefined = every output. */
  targets: string[] | undefined;
  /** Whole frame size on disk. */
  bytes: number;
}

export function encodeFrame(seq: number, time: number, flags: number, json: string, targets?: readonly string[]): Buffer {
  const body = targets === undefined ? json : `${JSON.stringify(targets)}\n${json}`;
  const payloadLen = Buffer.byteLength(body);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payloadLen);
  buf.writeUInt32LE(payloadLen, 0);
  buf.writeUInt32LE(seq % 0x1_0000_0000, 8);
  buf.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  buf.writeDoubleLE(time, 16);
  buf.writeUInt8(targets === undefined ? flags & ~FrameFlag.targeted : flags | FrameFlag.targeted, 24);
  buf.write(body, HEADER_BYTES, 'utf8');
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

export type DecodeResult =
  | { kind: 'frame'; frame: Frame }
  /** Not enough bytes for a whole frame (read more, or a torn tail). */
  | { kind: 'short'; need: number }
  | { kind: 'bad'; why: string };

/** Decodes the frame at `off` in `buf`. Pure; never throws. */
export function decodeFrame(buf: Buffer, off: number): DecodeResult {
  if (buf.length - off < HEADER_BYTES) return { kind: 'short', need: HEADER_BYTES };
  const len = buf.readUInt32LE(off);
  if (len > MAX_PAYLOAD_BYTES) return { kind: 'bad', why: 'length out of range' };
  const total = HEADER_BYTES + len;
  if (buf.length - off < total) return { kind: 'short', need: total };
  const crc = buf.readUInt32LE(off + 4);
  if (crc32(buf.subarray(off + 8, off + total)) !== crc) return { kind: 'bad', why: 'checksum mismatch' };
  const seq = buf.readUInt32LE(off + 8) + buf.readUInt32LE(off + 12) * 0x1_0000_0000;
  const time = buf.readDoubleLE(off + 16);
  const flags = buf.readUInt8(off + 24);
  let payload = buf.subarray(off + HEADER_BYTES, off + total);
  let targets: string[] | undefined;
  if ((flags & FrameFlag.targeted) !== 0) {
    const nl = payload.indexOf(0x0a);
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8', 0, nl));
    } catch {
      return { kind: 'bad', why: 'unreadable target list' };
    }
    // Only this agent writes target lists, as arrays of output names: anything else is damage.
    if (!Array.isArray(parsed) || !parsed.every((t) => typeof t === 'string')) return { kind: 'bad', why: 'unreadable target list' };
    targets = parsed;
    payload = payload.subarray(nl + 1);
  }
  return { kind: 'frame', frame: { seq, time, flags, payload, targets, bytes: total } };
}

/** Whether `frame` is meant for the output `name`. */
export function frameIsFor(frame: Pick<Frame, 'targets'>, name: string): boolean {
  return frame.targets === undefined || frame.targets.includes(name);
}

/** Segment file name for a segment whose first frame has `seq`; sorts by name. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.seg`;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{16})\.seg$/.exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
