import { ipv4FromBytes, ipv6FromBytes, withZone } from './address.js';

/**
 * Pure decoders for the IP Helper owner tables (x64 layouts from tcpmib.h / udpmib.h). The
 * table starts with `DWORD dwNumEntries`; rows start at 4 (OWNER_PID) or 8 (OWNER_MODULE, whose
 * rows hold 8-byte aligned LARGE_INTEGER timestamps).
 */
export type TableKind = 'tcp4' | 'tcp6' | 'udp4' | 'udp6';
export type TableVariant = 'pid' | 'module';

export const AF_INET = 2;
export const AF_INET6 = 23;
export const TCP_TABLE_OWNER_MODULE_LISTENER = 6;
/** Every TCP row but listeners, with its owning pid (MIB_TCPROW_OWNER_PID / MIB_TCP6ROW_OWNER_PID). */
export const TCP_TABLE_OWNER_PID_CONNECTIONS = 4;
export const UDP_TABLE_OWNER_MODULE = 2;
export const MIB_TCP_STATE_LISTEN = 2;
/** MIB_TCP_STATE values of the connection rows (tcpmib.h). */
export const MIB_TCP_STATE = {
  closed: 1, listen: 2, synSent: 3, synRcvd: 4, established: 5, finWait1: 6, finWait2: 7,
  closeWait: 8, closing: 9, lastAck: 10, timeWait: 11, deleteTcb: 12,
} as const;
/** FILETIME of 1970-01-01T00:00:00Z (100 ns ticks since 1601). */
export const FILETIME_UNIX_EPOCH = 116444736000000000n;

interface Layout {
  rowSize: number;
  rowsAt: number;
  addr: number;
  scope?: number;
  port: number;
  remotePort?: number;
  remoteAddr?: number;
  remoteScope?: number;
  state?: number;
  pid: number;
  timestamp?: number;
  /** UDP OWNER_MODULE: dwFlags, bit 0 = SpecificPortBind. */
  flags?: number;
}

const LAYOUTS: Record<TableKind, Record<TableVariant, Layout>> = {
  tcp4: {
    pid: { rowSize: 24, rowsAt: 4, state: 0, addr: 4, port: 8, remoteAddr: 12, remotePort: 16, pid: 20 },
    module: { rowSize: 160, rowsAt: 8, state: 0, addr: 4, port: 8, remoteAddr: 12, remotePort: 16, pid: 20, timestamp: 24 },
  },
  tcp6: {
    pid: { rowSize: 56, rowsAt: 4, addr: 0, scope: 16, port: 20, remoteAddr: 24, remoteScope: 40, remotePort: 44, state: 48, pid: 52 },
    module: { rowSize: 192, rowsAt: 8, addr: 0, scope: 16, port: 20, remoteAddr: 24, remoteScope: 40, remotePort: 44, state: 48, pid: 52, timestamp: 56 },
  },
  udp4: {
    pid: { rowSize: 12, rowsAt: 4, addr: 0, port: 4, pid: 8 },
    module: { rowSize: 160, rowsAt: 8, addr: 0, port: 4, pid: 8, timestamp: 16, flags: 24 },
  },
  udp6: {
    pid: { rowSize: 28, rowsAt: 4, addr: 0, scope: 16, port: 20, pid: 24 },
    module: { rowSize: 176, rowsAt: 8, addr: 0, scope: 16, port: 20, pid: 24, timestamp: 32, flags: 40 },
  },
};

export function rowSize(kind: TableKind, variant: TableVariant): number {
  return LAYOUTS[kind][variant].rowSize;
}

export interface IpHelperRow {
  kind: TableKind;
  /** Local address text; IPv6 keeps its zone (`fe80::1%4`). */
  address: string;
  port: number;
  /** TCP only: MIB_TCP_STATE (2 = LISTEN). */
  state?: number;
  remotePort?: number;
  /** TCP only: the peer's address text (IPv6 with its zone); `0.0.0.0` / `::` for listeners. */
  remoteAddress?: string;
  /** 0 = unknown owner. */
  pid: number;
  /** Bind time as a FILETIME; 0n when the OS did not record it. */
  createTimestamp: bigint;
  /**
   * UDP OWNER_MODULE only: the application bound this port explicitly (SpecificPortBind), as a
   * server does; false for sockets bound to port 0 (an ephemeral client port). Kept, not filtered,
   * for parity with Linux, which reports every unconnected UDP socket.
   */
  specificPortBind?: boolean;
  /** The row's own bytes, for GetOwnerModuleFrom*Entry. */
  row: Buffer;
}

export interface DecodedTable {
  rows: IpHelperRow[];
  warnings: string[];
}

/** Port fields are DWORDs holding a network-order u16 in their first two bytes. */
function readPort(buf: Buffer, o: number): number {
  return ((buf[o] ?? 0) << 8) | (buf[o + 1] ?? 0);
}

/** Decodes a whole table; a table shorter than its entry count yields the complete rows and a warning. */
export function decodeTable(kind: TableKind, buf: Buffer, variant: TableVariant = 'module'): DecodedTable {
  const warnings: string[] = [];
  if (buf.length < 4) return { rows: [], warnings: buf.length === 0 ? [] : [`${kind} table: ${buf.length} bytes, too short for a header`] };
  const L = LAYOUTS[kind][variant];
  const count = buf.readUInt32LE(0);
  const fits = buf.length < L.rowsAt ? 0 : Math.floor((buf.length - L.rowsAt) / L.rowSize);
  if (fits < count) warnings.push(`${kind} table truncated: header says ${count} rows, buffer holds ${fits}`);
  const n = Math.min(count, fits);
  const rows: IpHelperRow[] = [];
  for (let i = 0; i < n; i++) {
    const o = L.rowsAt + i * L.rowSize;
    const row = buf.subarray(o, o + L.rowSize);
    const v6 = kind === 'tcp6' || kind === 'udp6';
    const base = v6 ? ipv6FromBytes(row, L.addr) : ipv4FromBytes(row, L.addr);
    const address = v6 && L.scope !== undefined ? withZone(base, row.readUInt32LE(L.scope)) : base;
    const r: IpHelperRow = {
      kind,
      address,
      port: readPort(row, L.port),
      pid: row.readUInt32LE(L.pid),
      createTimestamp: L.timestamp === undefined ? 0n : row.readBigUInt64LE(L.timestamp),
      row,
    };
    if (L.state !== undefined) r.state = row.readUInt32LE(L.state);
    if (L.remotePort !== undefined) r.remotePort = readPort(row, L.remotePort);
    if (L.remoteAddr !== undefined) {
      const peer = v6 ? ipv6FromBytes(row, L.remoteAddr) : ipv4FromBytes(row, L.remoteAddr);
      r.remoteAddress = v6 && L.remoteScope !== undefined ? withZone(peer, row.readUInt32LE(L.remoteScope)) : peer;
    }
    if (L.flags !== undefined) r.specificPortBind = (row.readUInt32LE(L.flags) & 1) === 1;
    rows.push(r);
  }
  return { rows, warnings };
}

/** FILETIME (100 ns since 1601, UTC) to ISO time with milliseconds; undefined for 0 or absurd values. */
export function filetimeToIso(ft: bigint): string | undefined {
  if (ft <= FILETIME_UNIX_EPOCH) return undefined;
  const ms = Number((ft - FILETIME_UNIX_EPOCH) / 10000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Unix milliseconds to a FILETIME. */
export function unixMsToFiletime(ms: number): bigint {
  return BigInt(Math.round(ms)) * 10000n + FILETIME_UNIX_EPOCH;
}
