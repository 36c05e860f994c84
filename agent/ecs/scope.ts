import { isIP, isIPv4, isIPv6 } from 'node:net';

/** How far a bound address reaches: `portwarden.listener.scope`. */
export type Scope = 'any' | 'loopback' | 'link_local' | 'private' | 'public';

function v4Octets(ip: string): number[] {
  return ip.split('.').map(Number);
}

function v4Scope(ip: string): Scope {
  const [a = 0, b = 0] = v4Octets(ip);
  if (ip === '0.0.0.0') return 'any';
  if (a === 127) return 'loopback';
  if (a === 169 && b === 254) return 'link_local';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) {
    return 'private';
  }
  return 'public';
}

/** What a listener document needs of its local address: its scope, and whether it is an IP. */
export interface AddressInfo {
  scope: Scope;
  ip: boolean;
}

/** The addresses seen lately: a host binds few distinct addresses, often thousands of times. */
const known = new Map<string, AddressInfo>();
const KNOWN_AT_MOST = 1024;

/** Scope of a local address and whether it is an IP (not a name or a zone-qualified link-local). */
export function addressInfo(address: string): AddressInfo {
  let info = known.get(address);
  if (info === undefined) {
    if (known.size >= KNOWN_AT_MOST) known.clear();
    info = { scope: scopeOf(address), ip: isIP(address) !== 0 };
    known.set(address, info);
  }
  return info;
}

/** Scope of a local address (`0.0.0.0`, `::`, `127.0.0.1`, `fe80::1`, `::ffff:10.0.0.1` ...). */
export function addressScope(address: string): Scope {
  return addressInfo(address).scope;
}

function scopeOf(address: string): Scope {
  const ip = address.split('%')[0] ?? address;
  if (isIPv4(ip)) return v4Scope(ip);
  if (!isIPv6(ip)) return 'public';
  const lower = ip.toLowerCase();
  if (lower === '::') return 'any';
  if (lower === '::1') return 'loopback';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped?.[1] !== undefined) return v4Scope(mapped[1]);
  const first = Number.parseInt(lower.split(':')[0] ?? '0', 16);
  if ((first & 0xffc0) === 0xfe80) return 'link_local';
  if ((first & 0xfe00) === 0xfc00) return 'private';
  return 'public';
}

/** True when the scope reaches beyond this host. */
export function isExposed(scope: Scope): boolean {
  return scope !== 'loopback';
}
