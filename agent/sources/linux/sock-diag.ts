/**
 * In-process NETLINK_SOCK_DIAG dump of listening sockets through our N-API addon
 * (`native/sock_diag.c`, built by `scripts/build-native.mjs` into `dist/native/sock_diag.node`).
 * The kernel filters to TCP LISTEN and UDP bound-unconnected, so the cost grows with listeners only.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { compressIpv6 } from './proc-parsers.js';
import type { SocketRow } from './proc-parsers.js';

/** Bytes per row in the addon's packed buffer (layout documented in native/sock_diag.c). */
export const ROW_SIZE = 32;

/** What the addon returns: packed rows and the names of the interfaces they are bound to. */
export interface RawDump {
  rows: Uint8Array;
  /** ifindex (decimal text) -> interface name, resolved inside the dumped namespace. */
  ifnames: Readonly<Record<string, string>>;
}

interface SockDiagAddon {
  dump(netnsPath?: string): unknown;
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
  const r = v as Partial<RawDump>;
  return r.rows instanceof Uint8Array && r.rows.length % ROW_SIZE === 0 && typeof r.ifnames === 'object';
}

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o] ?? 0}.${b[o + 1] ?? 0}.${b[o + 2] ?? 0}.${b[o + 3] ?? 0}`;
}

function ipv6(b: Uint8Array, o: number): string {
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
  constructor(private readonly addon: SockDiagAddon) {}

  dump(netnsPath?: string): DumpResult {
    let raw: unknown;
    try {
      raw = netnsPath === undefined ? this.addon.dump() : this.addon.dump(netnsPath);
    } catch (err) {
      return classifyError(err);
    }
    if (!isRawDump(raw)) return { kind: 'failed', code: 'EPROTO', message: 'sock_diag.node returned an unexpected value' };
    return { kind: 'ok', rows: decodeRows(raw) };
  }
}

const DEFAULT_ADDON = fileURLToPath(new URL('../../../native/sock_diag.node', import.meta.url));

/** Loads the addon; undefined when it was not built (no C compiler or headers), on other OSes, or on ABI mismatch. */
export function loadSockDiag(file = DEFAULT_ADDON): SockDiag | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const mod = createRequire(import.meta.url)(file) as Partial<SockDiagAddon> | null;
    return typeof mod?.dump === 'function' ? new SockDiag(mod as SockDiagAddon) : undefined;
  } catch {
    return undefined;
  }
}
