import type { Family } from '../types.js';

/** IPv4 text from four bytes in memory (network) order. */
export function ipv4FromBytes(buf: Buffer, offset: number): string {
  return `${buf[offset] ?? 0}.${buf[offset + 1] ?? 0}.${buf[offset + 2] ?? 0}.${buf[offset + 3] ?? 0}`;
}

/** RFC 5952 text of 16 bytes in network order: lower case, the longest run of zero groups as `::`. */
export function ipv6FromBytes(buf: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${ipv4FromBytes(buf, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Adds the zone (`%4`) that Windows prints for scoped IPv6 addresses; zone 0 means none. */
export function withZone(address: string, scopeId: number | string | undefined): string {
  if (scopeId === undefined || scopeId === 0 || scopeId === '' || scopeId === '0') return address;
  return `${address}%${String(scopeId)}`;
}

export function familyOf(address: string): Family {
  return address.includes(':') ? 'ipv6' : 'ipv4';
}

export interface Endpoint {
  address: string;
  /** Undefined for `*`. */
  port: number | undefined;
}

/**
 * Splits `1.2.3.4:80`, `[fe80::1%4]:135`, `*:*` or `*:7000` on the last colon (IPv6 text is
 * bracketed; zones are kept).
 */
export function splitEndpoint(text: string): Endpoint | undefined {
  const i = text.lastIndexOf(':');
  if (i <= 0) return undefined;
  let host = text.slice(0, i);
  const portText = text.slice(i + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.length === 0) return undefined;
  if (portText === '*') return { address: host, port: undefined };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  return { address: host, port };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/%.*$/, '');
  return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');
}

/** True for the any-address of either family. */
export function isAnyAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '*';
}
