/**
 * Parser of the real-time source's wire format (native/realtime/records.h): one Buffer of
 * back-to-back records per delivery from the eBPF ring buffer, the proc connector or the socket
 * destroy notifications. Pure: bytes in, typed records out; a malformed record ends the buffer's
 * parse and is counted, never thrown.
 */
import type { ConnectAttempt } from '../../types.js';
// The same address text as the sock_diag path and `ss`.
import { ipv4, ipv6 } from '../sock-diag.js';

export const HEADER_SIZE = 88;
/** pw_exec: filename_len, args_len, pad, pgid, sid. */
const EXEC_FIXED = 16;
const MAGIC = 0x5057;
const UNKNOWN_ID = 0xffffffff;

export const RecordType = {
  fork: 1, exec: 2, exit: 3, listen: 4, unlisten: 5, bind: 6, destroy: 7, lost: 8, connect: 9,
} as const;

export const RecordFlag = { argsTruncated: 0x1, filenameTruncated: 0x2, fromProc: 0x4, argsMissing: 0x8 } as const;

/** What every record says of the process that caused it. */
export interface RawProcess {
  tgid: number;
  tid: number;
  ppid: number;
  uid: number | undefined;
  euid: number | undefined;
  gid: number | undefined;
  /** Network namespace inode as text (as the polling path names it), undefined when unknown. */
  netns: string | undefined;
  /** Start of the thread group in ns since boot (CLOCK_BOOTTIME). */
  startNs: bigint;
  parentStartNs: bigint;
  /** When it happened, ns since boot. */
  tsNs: bigint;
  cgroupId: bigint;
  comm: string;
  flags: number;
}

export interface RawSocket {
  transport: 'tcp' | 'udp';
  family: 'ipv4' | 'ipv6';
  address: string;
  port: number;
  ifindex: number;
  inode: number;
  cookie: bigint;
}

/**
 * An outbound TCP connection attempt (PW_CONNECT): what ConnectAttempt says of the socket (a
 * v4-mapped peer of an IPv6 socket reported as IPv4; '' for a local address not known yet).
 */
export type RawConnection = Omit<ConnectAttempt, 'pid' | 'name' | 'netns' | 'uid'>;

export type RawRecord =
  | { type: 'fork'; proc: RawProcess }
  /** pgid, sid: 0 (or absent) when the producer did not read them (eBPF; the proc connector reads them from /proc). */
  | { type: 'exec'; proc: RawProcess; filename: string; args: string[]; pgid?: number; sid?: number }
  | { type: 'exit'; proc: RawProcess; exitCode: number }
  | { type: 'listen' | 'unlisten' | 'bind' | 'destroy'; proc: RawProcess; socket: RawSocket }
  | { type: 'connect'; proc: RawProcess; conn: RawConnection }
  | { type: 'lost'; proc: RawProcess; count: number };

export interface ParseResult {
  records: RawRecord[];
  /** Bytes that did not form a record (bad magic, size or type): reported, the rest of that buffer skipped. */
  malformed: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function text(b: Uint8Array, from: number, to: number): string {
  let end = from;
  while (end < to && b[end] !== 0) end++;
  return decoder.decode(b.subarray(from, end));
}

function id(v: number): number | undefined {
  return v === UNKNOWN_ID ? undefined : v;
}

function header(b: Uint8Array, v: DataView, o: number): RawProcess {
  const netns = v.getUint32(o + 32, true);
  return {
    flags: v.getUint16(o + 6, true),
    tgid: v.getUint32(o + 8, true),
    tid: v.getUint32(o + 12, true),
    ppid: v.getUint32(o + 16, true),
    uid: id(v.getUint32(o + 20, true)),
    euid: id(v.getUint32(o + 24, true)),
    gid: id(v.getUint32(o + 28, true)),
    netns: netns === 0 ? undefined : String(netns),
    startNs: v.getBigUint64(o + 40, true),
    parentStartNs: v.getBigUint64(o + 48, true),
    tsNs: v.getBigUint64(o + 56, true),
    cgroupId: v.getBigUint64(o + 64, true),
    comm: text(b, o + 72, o + 88),
  };
}

/** argv bytes, each argument NUL-terminated (a last one may lack its NUL when cut). */
export function splitArgs(b: Uint8Array): string[] {
  const args: string[] = [];
  let from = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0) continue;
    args.push(decoder.decode(b.subarray(from, i)));
    from = i + 1;
  }
  if (from < b.length) args.push(decoder.decode(b.subarray(from)));
  return args;
}

function socket(b: Uint8Array, v: DataView, o: number): RawSocket {
  const v6 = b[o + 1] === 10;
  return {
    transport: b[o] === 17 ? 'udp' : 'tcp',
    family: v6 ? 'ipv6' : 'ipv4',
    port: v.getUint16(o + 2, true),
    ifindex: v.getUint32(o + 4, true),
    inode: Number(v.getBigUint64(o + 8, true)),
    cookie: v.getBigUint64(o + 16, true),
    address: v6 ? ipv6(b, o + 24) : ipv4(b, o + 24),
  };
}

/** An IPv6 address in the v4-mapped range (::ffff:a.b.c.d). */
function v4Mapped(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 10; i++) if (b[o + i] !== 0) return false;
  return b[o + 10] === 0xff && b[o + 11] === 0xff;
}

/** pw_conn: protocol, family, sport, dport, pad, suppressed, pad, saddr[16], daddr[16]. */
function connection(b: Uint8Array, v: DataView, o: number): RawConnection {
  const v6 = b[o + 1] === 10;
  const mapped = v6 && v4Mapped(b, o + 32);
  const addr = (at: number) => (!v6 ? ipv4(b, at) : mapped && v4Mapped(b, at) ? ipv4(b, at + 12) : ipv6(b, at));
  const src = addr(o + 16);
  return {
    transport: 'tcp',
    family: v6 && !mapped ? 'ipv6' : 'ipv4',
    sourcePort: v.getUint16(o + 2, true),
    destinationPort: v.getUint16(o + 4, true),
    suppressed: v.getUint32(o + 8, true),
    // A v4-mapped socket gets its v6 local address only after connect() returns: unknown here.
    sourceAddress: src === '0.0.0.0' || src === '::' || (mapped && !src.includes('.')) ? '' : src,
    destinationAddress: addr(o + 32),
  };
}

const SOCKET_TYPES: Record<number, 'listen' | 'unlisten' | 'bind' | 'destroy'> = {
  [RecordType.listen]: 'listen', [RecordType.unlisten]: 'unlisten', [RecordType.bind]: 'bind', [RecordType.destroy]: 'destroy',
};

/** Parses one delivery. Never throws. */
export function parseRecords(b: Uint8Array): ParseResult {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const records: RawRecord[] = [];
  let o = 0;
  while (o + HEADER_SIZE <= b.length) {
    const size = v.getUint16(o + 4, true);
    if (v.getUint16(o, true) !== MAGIC || size < HEADER_SIZE || size % 8 !== 0 || o + size > b.length) break;
    const type = v.getUint16(o + 2, true);
    const proc = header(b, v, o);
    const p = o + HEADER_SIZE;
    const end = o + size;
    if (type === RecordType.fork) {
      records.push({ type: 'fork', proc });
    } else if (type === RecordType.exec && p + EXEC_FIXED <= end) {
      const fl = v.getUint16(p, true);
      const al = v.getUint16(p + 2, true);
      const f = p + EXEC_FIXED;
      if (f + fl + al > end) break;
      records.push({
        type: 'exec', proc,
        filename: decoder.decode(b.subarray(f, f + fl)),
        args: splitArgs(b.subarray(f + fl, f + fl + al)),
        pgid: v.getUint32(p + 8, true), sid: v.getUint32(p + 12, true),
      });
    } else if (type === RecordType.exit && p + 8 <= end) {
      records.push({ type: 'exit', proc, exitCode: v.getInt32(p, true) });
    } else if (SOCKET_TYPES[type] !== undefined && p + 40 <= end) {
      records.push({ type: SOCKET_TYPES[type], proc, socket: socket(b, v, p) });
    } else if (type === RecordType.connect && p + 48 <= end) {
      records.push({ type: 'connect', proc, conn: connection(b, v, p) });
    } else if (type === RecordType.lost && p + 8 <= end) {
      records.push({ type: 'lost', proc, count: Number(v.getBigUint64(p, true)) });
    } else {
      break;
    }
    o = end;
  }
  return { records, malformed: b.length - o };
}
