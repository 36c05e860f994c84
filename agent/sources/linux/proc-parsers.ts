/**
 * Pure parsers for Linux /proc text and `ss` output. They never throw on malformed input:
 * they return undefined (or skip the line) and the caller counts a warning.
 */
import type { Family, ProcessRecord, Transport } from '../types.js';

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Start time in clock ticks since boot (field 22), as text to keep it exact. */
  startTicks: string;
}

/** `/proc/<pid>/stat`: the name sits in parentheses and may contain spaces, `)` and newlines. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open === -1 || close < open) return undefined;
  // Field 3 (state) starts after ") "; fields 4-6 and 22 are needed. Found by scanning for spaces,
  // not split(): that made 20 strings per process, 20,000 on a first scan of 1,000 processes.
  let state = '';
  let ppid = NaN;
  let pgrp = NaN;
  let session = NaN;
  let startTicks = '';
  let pos = close + 2;
  for (let field = 3; field <= 22; field++) {
    if (pos > text.length) return undefined;
    const next = text.indexOf(' ', pos);
    const end = next === -1 ? text.length : next;
    if (field === 3) state = text.slice(pos, end);
    else if (field <= 6) {
      const n = end > pos ? Number(text.slice(pos, end)) : NaN;
      if (field === 4) ppid = n;
      else if (field === 5) pgrp = n;
      else session = n;
    } else if (field === 22) startTicks = text.slice(pos, end);
    pos = end + 1;
  }
  if (state === '' || !/^\d+$/.test(startTicks)) return undefined;
  if (!Number.isInteger(ppid) || !Number.isInteger(pgrp) || !Number.isInteger(session)) return undefined;
  return { comm: text.slice(open + 1, close), state, ppid, pgrp, session, startTicks };
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** `/proc/<pid>/cmdline`: NUL-separated arguments; invalid UTF-8 becomes U+FFFD, nothing is lost silently. */
export function parseCmdline(buf: Uint8Array): string[] {
  if (buf.length === 0) return [];
  const end = buf[buf.length - 1] === 0 ? buf.length - 1 : buf.length;
  const args: string[] = [];
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || buf[i] === 0) {
      args.push(decoder.decode(buf.subarray(start, i)));
      start = i + 1;
    }
  }
  return args;
}

/** Quotes an argument for display the way a POSIX shell would need it. */
function quoteArg(a: string): string {
  return a === '' || /[\s"'\\$`]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a;
}

export function joinCommandLine(args: readonly string[]): string {
  return args.map(quoteArg).join(' ');
}

/** Readlink of `/proc/<pid>/exe`: a trailing ` (deleted)` means the file was removed or replaced. */
export function parseExeLink(link: string): { path: string; deleted: boolean } {
  const suffix = ' (deleted)';
  return link.endsWith(suffix) ? { path: link.slice(0, -suffix.length), deleted: true } : { path: link, deleted: false };
}

/** The executable from an exe link (" (deleted)" kept apart); comm, cut at 15 bytes, is completed from its basename. */
export function setExecutable(rec: ProcessRecord, link: string): void {
  const { path, deleted } = parseExeLink(link);
  rec.executable = path;
  if (deleted) rec.executableDeleted = true;
  const baseName = path.slice(path.lastIndexOf('/') + 1);
  if (rec.name.length === 15 && baseName.startsWith(rec.name)) rec.name = baseName;
}

/** `net:[4026531840]` -> `4026531840`. */
export function parseNsLink(link: string): string | undefined {
  const m = /^\w+:\[(\d+)\]$/.exec(link);
  return m?.[1];
}

/** `socket:[12345]` -> 12345. */
export function parseSocketLink(link: string): number | undefined {
  if (!link.startsWith('socket:[')) return undefined;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

const CONTAINER_RE = /(?:docker-|cri-containerd-|crio-|libpod-|containerd-|docker\/|kubepods[^\n]*[/-]|\/)([0-9a-f]{64})(?:\.scope)?/;

/** The container id (64 hex) from `/proc/<pid>/cgroup`, where the process runs in one. */
export function parseCgroupContainerId(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = CONTAINER_RE.exec(line);
    if (m?.[1] !== undefined) return m[1];
  }
  return undefined;
}

/** The real and effective uid from a `/proc/<pid>/status` text (its `Uid:` line: real, effective, saved, fs). */
export function parseStatusUids(text: string): { real: number; effective: number } | undefined {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return m === null ? undefined : { real: Number(m[1]), effective: Number(m[2]) };
}

/** Login shells that refuse a session: the account is for a service, not a person. */
const NO_LOGIN_SHELLS = /(?:^|\/)(?:nologin|false)$/;

/** `/etc/passwd` -> the uids whose login shell refuses logins (nologin, false). */
export function parseNoLoginUids(text: string): Set<number> {
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const uid = Number(f[2]);
    if (f[2] !== undefined && f[2] !== '' && Number.isInteger(uid) && NO_LOGIN_SHELLS.test((f[6] ?? '').trim())) out.add(uid);
  }
  return out;
}

/** `/etc/passwd` -> uid -> name. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const uid = Number(f[2]);
    if (f[0] !== undefined && f[0] !== '' && Number.isInteger(uid) && !out.has(uid)) out.set(uid, f[0]);
  }
  return out;
}

/** `btime` (boot time, epoch seconds) from `/proc/stat`. */
export function parseBtime(text: string): number | undefined {
  const m = /^btime (\d+)$/m.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * The task counters of /proc/loadavg ("0.20 0.18 0.12 1/80 11206": running/total tasks, then the
 * last pid handed out) as "total last": any task created or reaped changes them. Undefined when the
 * text is not in that shape.
 */
export function parseTaskCounters(text: string): string | undefined {
  const m = /^\S+ \S+ \S+ \d+\/(\d+) (\d+)\s*$/.exec(text);
  return m === null ? undefined : `${m[1]} ${m[2]}`;
}

export interface SocketRow {
  transport: Transport;
  family: Family;
  address: string;
  port: number;
  inode: number;
  uid?: number;
}

function hexToIpv4(hex: string): string {
  // /proc/net stores the address as a host-order (little-endian here) 32-bit word.
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function hexToIpv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 text form of eight hex groups. */
export function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart === -1) return groups.join(':');
  const head = groups.slice(0, bestStart).join(':');
  const tail = groups.slice(bestStart + bestLen).join(':');
  const v6 = `${head}::${tail}`;
  // IPv4-mapped addresses read better in their dotted form.
  if (bestStart === 0 && bestLen === 5 && groups[5] === 'ffff') {
    const hi = Number.parseInt(groups[6] ?? '0', 16);
    const lo = Number.parseInt(groups[7] ?? '0', 16);
    return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return v6;
}

/**
 * `/proc/<pid>/net/{tcp,tcp6,udp,udp6}`: rows in LISTEN (TCP 0A) or bound and unconnected
 * (UDP 07 with remote port 0). Malformed lines are counted in `bad`.
 */
export function parseProcNet(text: string, transport: Transport, family: Family): { rows: SocketRow[]; bad: number } {
  const rows: SocketRow[] = [];
  let bad = 0;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]?.trim();
    if (line === undefined || line === '') continue;
    const f = line.split(/\s+/);
    const local = f[1];
    const remote = f[2];
    const state = f[3];
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    const [addrHex, portHex] = local?.split(':') ?? [];
    const remotePort = remote?.split(':')[1];
    const addrLen = family === 'ipv4' ? 8 : 32;
    if (addrHex?.length !== addrLen || portHex === undefined || state === undefined || !Number.isInteger(inode)) {
      bad++;
      continue;
    }
    const listening = transport === 'tcp' ? state === '0A' : state === '07' && remotePort === '0000';
    if (!listening) continue;
    rows.push({
      transport,
      family,
      address: family === 'ipv4' ? hexToIpv4(addrHex) : hexToIpv6(addrHex),
      port: Number.parseInt(portHex, 16),
      inode,
      ...(Number.isInteger(uid) ? { uid } : {}),
    });
  }
  return { rows, bad };
}

/** Splits `addr:port` as ss prints it: `0.0.0.0:22`, `[::]:22`, `*:22`, `127.0.0.53%lo:53`, `[fe80::1]%eth0:123`. */
function splitSsEndpoint(text: string): { address: string; zone?: string; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  if (colon === -1) return undefined;
  const port = Number(text.slice(colon + 1));
  let host = text.slice(0, colon);
  if (!Number.isInteger(port)) return undefined;
  let zone: string | undefined;
  const pct = host.lastIndexOf('%');
  if (pct !== -1) {
    zone = host.slice(pct + 1);
    host = host.slice(0, pct);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return zone === undefined ? { address: host, port } : { address: host, zone, port };
}

/** One line of `ss -ltnuHe` (Netid State Recv-Q Send-Q Local Peer ext...). */
export function parseSsLine(line: string): (SocketRow & { zone?: string }) | undefined {
  const f = line.trim().split(/\s+/);
  const [netid, state, , , local] = f;
  if ((netid !== 'tcp' && netid !== 'udp') || local === undefined) return undefined;
  if (netid === 'tcp' ? state !== 'LISTEN' : state !== 'UNCONN') return undefined;
  const ep = splitSsEndpoint(local);
  if (ep === undefined) return undefined;
  let inode: number | undefined;
  let uid: number | undefined;
  let v6only: string | undefined;
  for (const ext of f.slice(6)) {
    if (ext.startsWith('ino:')) inode = Number(ext.slice(4));
    else if (ext.startsWith('uid:')) uid = Number(ext.slice(4));
    else if (ext.startsWith('v6only:')) v6only = ext.slice(7);
  }
  if (inode === undefined || !Number.isInteger(inode)) return undefined;
  // `*` is a dual-stack IPv6 wildcard (v6only:0); ss omits uid 0.
  const address = ep.address === '*' ? '::' : ep.address;
  const family: Family = address.includes(':') || v6only !== undefined ? 'ipv6' : 'ipv4';
  return {
    transport: netid,
    family,
    address,
    port: ep.port,
    inode,
    uid: uid ?? 0,
    ...(ep.zone === undefined ? {} : { zone: ep.zone }),
  };
}

/** What a process's stdin is, from the readlink of `/proc/<pid>/fd/0`. */
export type StdinKind = 'socket' | 'pipe' | 'tty' | 'null' | 'file';

export function classifyFdLink(link: string): StdinKind {
  if (link.startsWith('socket:[')) return 'socket';
  if (link.startsWith('pipe:[')) return 'pipe';
  if (link === '/dev/null') return 'null';
  if (link.startsWith('/dev/pts/') || link.startsWith('/dev/tty') || link === '/dev/console') return 'tty';
  return 'file';
}

/** Inodes of TCP sockets (any state) listed in a /proc/<pid>/net/tcp{,6} text. */
export function tcpInodes(text: string): Set<number> {
  const out = new Set<number>();
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const inode = Number(lines[i]?.trim().split(/\s+/)[9]);
    if (Number.isInteger(inode) && inode > 0) out.add(inode);
  }
  return out;
}
