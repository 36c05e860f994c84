/**
 * Established TCP connections of given processes (the relay watch's question): one
 * NETLINK_SOCK_DIAG dump of each namespace's established connections, then a walk of just these
 * processes' fd tables for the dumped inodes; only the rows they hold are decoded.
 */
import type { ConnectionRecord } from '../types.js';
import type { FdWalker } from './socket-owners.js';
import { ipv4, ipv6 } from './sock-diag.js';
import type { SockDiag } from './sock-diag.js';

/** Bytes per row of the addon's `connections()` buffer (layout in native/sock_diag/addon.c). */
export const CONN_ROW_SIZE = 72;

/** Most connections reported per process: a relay shows in a few; a busy server's thousands are not decoded. */
const MAX_PER_PROCESS = 256;

/** The inode column of packed rows, sorted (what the fd walk looks for), and each inode's row offset. */
export function rowInodes(rows: Uint8Array): Map<number, number> {
  const view = new DataView(rows.buffer, rows.byteOffset, rows.byteLength);
  const out = new Map<number, number>();
  for (let o = 0; o + CONN_ROW_SIZE <= rows.length; o += CONN_ROW_SIZE) out.set(view.getUint32(o + 8, true), o);
  return out;
}

/** One packed row at offset `o`: addresses as `ss` prints them, and what the holder read and wrote. */
export function decodeConnRow(rows: Uint8Array, o: number): Omit<ConnectionRecord, 'pid' | 'netns'> {
  const view = new DataView(rows.buffer, rows.byteOffset, rows.byteLength);
  const v6 = rows[o] === 6;
  const rec: Omit<ConnectionRecord, 'pid' | 'netns'> = {
    family: v6 ? 'ipv6' : 'ipv4',
    localAddress: v6 ? ipv6(rows, o + 16) : ipv4(rows, o + 16),
    localPort: view.getUint16(o + 2, false),
    remoteAddress: v6 ? ipv6(rows, o + 32) : ipv4(rows, o + 32),
    remotePort: view.getUint16(o + 4, false),
    inode: view.getUint32(o + 8, true),
  };
  if (((rows[o + 1] ?? 0) & 1) === 1) {
    const rqueue = view.getUint32(o + 48, true);
    const wqueue = view.getUint32(o + 52, true);
    // Written: acknowledged by the peer plus still queued; read: received minus not yet read.
    rec.bytesWritten = Number(view.getBigUint64(o + 56, true)) + wqueue;
    rec.bytesRead = Math.max(0, Number(view.getBigUint64(o + 64, true)) - rqueue);
  }
  return rec;
}

/** Which processes to ask about, per namespace: the namespace id and a pid inside it (for its ns/net link). */
export interface NamespaceGroup {
  netns: string;
  /** Whether it is the agent's own namespace (dumped without entering it). */
  own: boolean;
  pids: readonly number[];
}

/**
 * The connections the groups' processes hold. A namespace that cannot be entered or read is left
 * out (its processes have no connections in the answer); `problems` says why.
 */
export function readConnections(diag: SockDiag, walker: FdWalker, procRoot: string, groups: readonly NamespaceGroup[], problems: string[]): ConnectionRecord[] {
  const out: ConnectionRecord[] = [];
  for (const g of groups) {
    if (g.pids.length === 0) continue;
    // The namespace is entered through one of its processes; the next one serves when that one is gone.
    let r: ReturnType<SockDiag['connections']>;
    for (const pid of g.own ? [undefined] : g.pids) {
      r = diag.connections(pid === undefined ? undefined : `${procRoot}/${pid}/ns/net`);
      if (r?.kind !== 'gone') break;
    }
    if (r === undefined) {
      problems.push('the sock_diag addon in this build cannot dump connections');
      return out;
    }
    if (r.kind !== 'ok') {
      if (r.kind !== 'gone') problems.push(`connections of namespace ${g.netns}: ${r.message}`);
      continue;
    }
    const offsets = rowInodes(r.rows);
    if (offsets.size === 0) continue;
    const scan = walker(g.pids, offsets);
    const per = new Map<number, number>();
    for (const [pid, inode] of scan.pairs) {
      const o = offsets.get(inode);
      const n = per.get(pid) ?? 0;
      if (o === undefined || n >= MAX_PER_PROCESS) continue;
      per.set(pid, n + 1);
      out.push({ pid, netns: g.netns, ...decodeConnRow(r.rows, o) });
    }
  }
  return out;
}
