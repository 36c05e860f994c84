/**
 * In-process NETLINK_SOCK_DIAG dump of listening sockets through our N-API addon
 * (`native/sock_diag/`, built by `scripts/build-native.mjs` into `dist/native/sock_diag.node`).
 * The kernel filters to TCP LISTEN and UDP bound-unconnected, so the cost grows with listeners only.
 */
import { fileURLToPath } from 'node:url';
import { loadNativeAddon } from '../../util/native-addon.js';
import { compressIpv6 } from './proc-parsers.js';
import type { SocketRow } from './proc-parsers.js';

/** Bytes per row in the addon's packed buffer (layout documented in native/sock_diag/addon.c). */
export const ROW_SIZE = 32;

/** What the addon returns: packed rows and the names of the interfaces they are bound to. */
export interface RawDump {
  rows: Uint8Array;
  /** ifindex (decimal text) -> interface name, resolved inside the dumped namespace. */
  ifnames: Readonly<Record<string, string>>;
}

interface SockDiagAddon {
  /** With `previous`, an identical dump returns `previous` itself as `rows` (no new Buffer). */
  dump(netnsPath?: string, previous?: Uint8Array): unknown;
  /** Established TCP connections, packed (layout in native/sock_diag/addon.c); absent in older builds. */
  connections?(netnsPath?: string): unknown;
  /** Absent in addons built before it existed (the JS fd walk is used then). */
  holders?(procRoot: string, pids: Uint32Array, wanted: Uint32Array): unknown;
  /** Absent in older builds (the JS light read is used then). */
  basics?(procRoot: string, pids: Uint32Array): unknown;
  /** Absent in older builds (the JS reads of stat and ns/net are used then). */
  starts?(procRoot: string, pids: Uint32Array): unknown;
  /** Absent in older builds (the /proc/net TCP tables are read then). */
  sockProto?(path: string): unknown;
  trimMemory?(): unknown;
  limitArenas?(n: number): unknown;
}

/** What `basics` reads per process: stat text, owner uid and the ns/net link ('' when unreadable). */
export interface ProcBasics {
  pid: number;
  uid: number;
  netnsLink: string;
  stat: string;
}

/** Socket fds found by a walk of /proc/<pid>/fd: who holds which wanted inode. */
export interface HolderScan {
  /** [pid, inode] pairs, in walk order. */
  pairs: [number, number][];
  /** Pids whose fd directory could not be read for lack of privileges. */
  denied: number[];
  /** fd directories read. */
  read: number;
}

function isHolderResult(v: unknown): v is { pairs: Uint32Array; denied: Uint32Array; read: number } {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return r.pairs instanceof Uint32Array && r.denied instanceof Uint32Array && typeof r.read === 'number';
}

export type DumpResult =
  | { kind: 'ok'; rows: (SocketRow & { zone?: string })[] }
  /** No CAP_SYS_ADMIN for that namespace: read it another way (nsenter, /proc/<pid>/net). */
  | { kind: 'not-permitted'; code: string; message: string }
  /** The namespace path vanished (its process exited). */
  | { kind: 'gone'; code: string; message: string }
  | { kind: 'failed'; code: string; message: string };

function isRawDump(v: unknown): v is RawDump {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return r.rows instanceof Uint8Array && r.rows.length % ROW_SIZE === 0 && typeof r.ifnames === 'object' && r.ifnames !== null;
}

/** Dotted IPv4 text of 4 bytes at `o` (network order). */
export function ipv4(b: Uint8Array, o: number): string {
  return `${b[o] ?? 0}.${b[o + 1] ?? 0}.${b[o + 2] ?? 0}.${b[o + 3] ?? 0}`;
}

/** IPv6 text of 16 bytes at `o`, as `ss` and inet_ntop print it. */
export function ipv6(b: Uint8Array, o: number): string {
  // inet_ntop (hence ss) prints the deprecated IPv4-compatible form ::a.b.c.d dotted as well.
  if (b.subarray(o, o + 12).every((x) => x === 0) && ((b[o + 12] ?? 0) | (b[o + 13] ?? 0)) !== 0) return `::${ipv4(b, o + 12)}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[o + i] ?? 0) << 8) | (b[o + i + 1] ?? 0)).toString(16));
  return compressIpv6(groups);
}

/** Packed addon rows -> the rows `ss -ltnuHe` and the /proc parser produce (same address text and zone). */
export function decodeRows(raw: RawDump): (SocketRow & { zone?: string })[] {
  const b = raw.rows;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: (SocketRow & { zone?: string })[] = [];
  for (let o = 0; o + ROW_SIZE <= b.length; o += ROW_SIZE) {
    const v6 = b[o] === 6;
    const ifindex = view.getUint32(o + 12, true);
    const row: SocketRow & { zone?: string } = {
      transport: b[o + 1] === 17 ? 'udp' : 'tcp',
      family: v6 ? 'ipv6' : 'ipv4',
      address: v6 ? ipv6(b, o + 16) : ipv4(b, o + 16),
      port: view.getUint16(o + 2, false),
      inode: view.getUint32(o + 4, true),
      uid: view.getUint32(o + 8, true),
    };
    // Like ss: a socket bound to a device (SO_BINDTODEVICE or a link-local scope) shows `%name`.
    if (ifindex !== 0) row.zone = raw.ifnames[String(ifindex)] ?? `if${ifindex}`;
    out.push(row);
  }
  return out;
}

/** Sorts an addon error into what the caller should do about it. */
export function classifyError(err: unknown): Exclude<DumpResult, { kind: 'ok' }> {
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : 'EUNKNOWN';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const entering = e?.syscall === 'open(netns)' || e?.syscall === 'setns(netns)';
  if (entering && (code === 'EPERM' || code === 'EACCES')) return { kind: 'not-permitted', code, message };
  if (e?.syscall === 'open(netns)' && (code === 'ENOENT' || code === 'ESRCH')) return { kind: 'gone', code, message };
  return { kind: 'failed', code, message };
}

/** The loaded addon. `dump()` reads the caller's namespace; `dump(path)` enters `/proc/<pid>/ns/net`. */
export class SockDiag {
  /** Last packed dump and its decoded rows per namespace: an unchanged dump is not decoded again. */
  private readonly last = new Map<string, { raw: Uint8Array; rows: (SocketRow & { zone?: string })[] }>();

  constructor(private readonly addon: SockDiagAddon) {}

  /** Returns the C heap's free pages to the kernel (glibc); false where that is not possible. */
  trimMemory(): boolean {
    try {
      return typeof this.addon.trimMemory === 'function' && this.addon.trimMemory() === true;
    } catch {
      return false;
    }
  }

  /** Caps glibc's malloc arenas at `n` for threads that have not allocated yet; false where not possible. */
  limitArenas(n: number): boolean {
    try {
      return typeof this.addon.limitArenas === 'function' && this.addon.limitArenas(n) === true;
    } catch {
      return false;
    }
  }

  /**
   * The protocol of the socket behind an fd link ("TCP", "TCPv6", "UNIX-STREAM" ...); undefined
   * when it is no socket, is gone, or the addon cannot tell.
   */
  socketProtocol(fdPath: string): string | undefined {
    try {
      const proto = this.addon.sockProto?.(fdPath);
      return typeof proto === 'string' ? proto : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether this build of the addon can walk fd tables (`holders`). */
  get walksFds(): boolean {
    return typeof this.addon.holders === 'function';
  }

  /** Whether this build of the addon reads parents, starts and namespaces in one call (`starts`). */
  get readsStarts(): boolean {
    return typeof this.addon.starts === 'function';
  }

  /** Whether this build of the addon can read process basics in one call. */
  get readsBasics(): boolean {
    return typeof this.addon.basics === 'function';
  }

  /**
   * Reads stat, owner uid and ns/net of each pid in C (one call instead of five fs calls per
   * process). Vanished pids are left out; undefined when the addon cannot.
   */
  basics(procRoot: string, pids: Uint32Array): ProcBasics[] | undefined {
    if (this.addon.basics === undefined) return undefined;
    let raw: unknown;
    try {
      raw = this.addon.basics(procRoot, pids);
    } catch {
      return undefined;
    }
    if (!(raw instanceof Uint8Array)) return undefined;
    const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: ProcBasics[] = [];
    for (let o = 0; o + 11 <= b.length;) {
      const nsLen = b[o + 8] ?? 0;
      const statAt = o + 9 + nsLen + 2;
      // A cut entry (its ns link or stat length past the end) makes the whole answer unusable.
      if (statAt > b.length) return undefined;
      const statLen = b.readUInt16LE(o + 9 + nsLen);
      if (statAt + statLen > b.length) return undefined;
      out.push({
        pid: b.readUInt32LE(o),
        uid: b.readUInt32LE(o + 4),
        netnsLink: b.toString('latin1', o + 9, o + 9 + nsLen),
        stat: b.toString('utf8', statAt, statAt + statLen),
      });
      o = statAt + statLen;
    }
    return out;
  }

  /**
   * Parent, start ticks and network namespace inode of each pid, parsed in C: a flat array of
   * [pid, ppid, start, netns (0: unreadable)] per readable pid. Undefined when the addon cannot.
   */
  starts(procRoot: string, pids: Uint32Array): Float64Array | undefined {
    if (this.addon.starts === undefined) return undefined;
    try {
      const raw = this.addon.starts(procRoot, pids);
      return raw instanceof Float64Array && raw.length % 4 === 0 ? raw : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Walks the fd tables of `pids` in C (readdir + readlink, as `ss -p` does) and returns the
   * socket fds whose inode is in `wanted` (sorted ascending). Undefined when the addon cannot.
   */
  holders(procRoot: string, pids: Uint32Array, wanted: Uint32Array): HolderScan | undefined {
    if (this.addon.holders === undefined) return undefined;
    let raw: unknown;
    try {
      raw = this.addon.holders(procRoot, pids, wanted);
    } catch {
      return undefined;
    }
    if (!isHolderResult(raw)) return undefined;
    const pairs: [number, number][] = [];
    for (let i = 0; i + 1 < raw.pairs.length; i += 2) pairs.push([raw.pairs[i] ?? 0, raw.pairs[i + 1] ?? 0]);
    return { pairs, denied: [...raw.denied], read: raw.read };
  }

  /**
   * The established TCP connections of a namespace (the caller's, or the one at `netnsPath`), as
   * packed rows (connections.ts decodes them); undefined when this build of the addon cannot.
   */
  connections(netnsPath?: string): { kind: 'ok'; rows: Uint8Array } | Exclude<DumpResult, { kind: 'ok' }> | undefined {
    if (this.addon.connections === undefined) return undefined;
    let raw: unknown;
    try {
      raw = this.addon.connections(netnsPath);
    } catch (err) {
      return classifyError(err);
    }
    return raw instanceof Uint8Array ? { kind: 'ok', rows: raw } : { kind: 'failed', code: 'EPROTO', message: 'sock_diag.node returned an unexpected value' };
  }

  dump(netnsPath?: string): DumpResult {
    const key = netnsPath ?? '';
    const prev = this.last.get(key);
    let raw: unknown;
    try {
      // The addon compares with the last dump's bytes itself and hands them back when equal.
      raw = this.addon.dump(netnsPath, prev?.raw);
    } catch (err) {
      return classifyError(err);
    }
    if (!isRawDump(raw)) return { kind: 'failed', code: 'EPROTO', message: 'sock_diag.node returned an unexpected value' };
    // A steady host dumps the same bytes every poll: hand back the rows decoded last time (callers
    // never mutate them) instead of allocating thousands of objects per poll. Not when a socket is
    // bound to an interface: its name may have changed under the same bytes.
    if (prev !== undefined && raw.rows === prev.raw && Object.keys(raw.ifnames).length === 0) return { kind: 'ok', rows: prev.rows };
    const rows = decodeRows(raw);
    this.last.set(key, { raw: raw.rows, rows });
    if (this.last.size > 64) this.last.delete(this.last.keys().next().value ?? '');
    return { kind: 'ok', rows };
  }
}

const DEFAULT_ADDON = fileURLToPath(new URL('../../../native/sock_diag.node', import.meta.url));

/** Loads the addon; undefined when it was not built (no C compiler or headers), on other OSes, or on ABI mismatch. */
export function loadSockDiag(file = DEFAULT_ADDON): SockDiag | undefined {
  if (process.platform !== 'linux') return undefined;
  const mod = loadNativeAddon(file);
  return typeof mod?.dump === 'function' ? new SockDiag(mod as unknown as SockDiagAddon) : undefined;
}
