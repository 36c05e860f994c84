import { isIPv4 } from 'node:net';
import { rowSize, type TableKind } from '../agent/sources/windows/iphlp-decode.js';

/**
 * Builds IP Helper and NtQuerySystemInformation buffers from the documented x64 layouts
 * (tcpmib.h, udpmib.h, phnt SYSTEM_PROCESS_INFORMATION), as Windows would fill them.
 */
export interface RowSpec {
  address: string;
  port: number;
  pid: number;
  scopeId?: number;
  state?: number;
  remotePort?: number;
  /** TCP: the peer (default the any-address, as listeners have it) and its IPv6 scope id. */
  remoteAddress?: string;
  remoteScopeId?: number;
  /** Bind FILETIME; 0n = not recorded. */
  createTimestamp?: bigint;
  /** UDP dwFlags (bit 0 SpecificPortBind). */
  flags?: number;
}

function ipv6Bytes(addr: string): Buffer {
  const [head = '', tail] = addr.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  const groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => { b.writeUInt16BE(g, i * 2); });
  return b;
}

function writePort(b: Buffer, o: number, port: number): void {
  // A DWORD whose first two bytes hold the port in network order; the upper bytes are junk on purpose.
  b.writeUInt16BE(port, o);
  b.writeUInt16LE(0xbeef, o + 2);
}

export function buildTable(kind: TableKind, rows: RowSpec[], variant: 'pid' | 'module' = 'module'): Buffer {
  const size = rowSize(kind, variant);
  const at = variant === 'module' ? 8 : 4;
  const buf = Buffer.alloc(at + rows.length * size);
  buf.writeUInt32LE(rows.length, 0);
  rows.forEach((r, i) => {
    const o = at + i * size;
    const mod = variant === 'module';
    if (kind === 'tcp4') {
      buf.writeUInt32LE(r.state ?? 2, o);
      Buffer.from(r.address.split('.').map(Number)).copy(buf, o + 4);
      writePort(buf, o + 8, r.port);
      Buffer.from((r.remoteAddress ?? '0.0.0.0').split('.').map(Number)).copy(buf, o + 12);
      writePort(buf, o + 16, r.remotePort ?? 0);
      buf.writeUInt32LE(r.pid, o + 20);
      if (mod) buf.writeBigUInt64LE(r.createTimestamp ?? 0n, o + 24);
    } else if (kind === 'tcp6') {
      ipv6Bytes(r.address).copy(buf, o);
      buf.writeUInt32LE(r.scopeId ?? 0, o + 16);
      writePort(buf, o + 20, r.port);
      ipv6Bytes(r.remoteAddress ?? '::').copy(buf, o + 24);
      buf.writeUInt32LE(r.remoteScopeId ?? 0, o + 40);
      writePort(buf, o + 44, r.remotePort ?? 0);
      buf.writeUInt32LE(r.state ?? 2, o + 48);
      buf.writeUInt32LE(r.pid, o + 52);
      if (mod) buf.writeBigUInt64LE(r.createTimestamp ?? 0n, o + 56);
    } else if (kind === 'udp4') {
      if (!isIPv4(r.address)) throw new Error(`not IPv4: ${r.address}`);
      Buffer.from(r.address.split('.').map(Number)).copy(buf, o);
      writePort(buf, o + 4, r.port);
      buf.writeUInt32LE(r.pid, o + 8);
      if (mod) buf.writeBigUInt64LE(r.createTimestamp ?? 0n, o + 16);
      if (mod) buf.writeUInt32LE(r.flags ?? 0, o + 24);
    } else {
      ipv6Bytes(r.address).copy(buf, o);
      buf.writeUInt32LE(r.scopeId ?? 0, o + 16);
      writePort(buf, o + 20, r.port);
      buf.writeUInt32LE(r.pid, o + 24);
      if (mod) buf.writeBigUInt64LE(r.createTimestamp ?? 0n, o + 32);
      if (mod) buf.writeUInt32LE(r.flags ?? 0, o + 40);
    }
  });
  return buf;
}

export interface ProcSpec {
  pid: number;
  ppid: number;
  createTime: bigint;
  imageName: string;
  sessionId?: number;
}

/** SYSTEM_PROCESS_INFORMATION entries (with room for thread records between them), strings after the entries. */
export function buildProcessTable(procs: ProcSpec[], base: bigint, entrySize = 256): Buffer {
  const names = procs.map((p) => Buffer.from(p.imageName, 'utf16le'));
  const stringsAt = procs.length * entrySize;
  const buf = Buffer.alloc(stringsAt + names.reduce((n, b) => n + b.length + 2, 0));
  let s = stringsAt;
  procs.forEach((p, i) => {
    const o = i * entrySize;
    buf.writeUInt32LE(i === procs.length - 1 ? 0 : entrySize, o);
    buf.writeBigInt64LE(p.createTime, o + 32);
    const name = names[i]!;
    buf.writeUInt16LE(name.length, o + 56);
    buf.writeUInt16LE(name.length + 2, o + 58);
    buf.writeBigUInt64LE(name.length === 0 ? 0n : base + BigInt(s), o + 64);
    buf.writeBigUInt64LE(BigInt(p.pid), o + 80);
    buf.writeBigUInt64LE(BigInt(p.ppid), o + 88);
    buf.writeUInt32LE(p.sessionId ?? 0, o + 100);
    name.copy(buf, s);
    s += name.length + 2;
  });
  return buf;
}

/** TCPIP_OWNER_MODULE_BASIC_INFO with both strings stored after the two pointers. */
export function buildOwnerModule(base: bigint, moduleName: string, modulePath: string): Buffer {
  const n = Buffer.from(`${moduleName}\0`, 'utf16le');
  const p = Buffer.from(`${modulePath}\0`, 'utf16le');
  const buf = Buffer.alloc(16 + n.length + p.length);
  buf.writeBigUInt64LE(base + 16n, 0);
  buf.writeBigUInt64LE(base + 16n + BigInt(n.length), 8);
  n.copy(buf, 16);
  p.copy(buf, 16 + n.length);
  return buf;
}
