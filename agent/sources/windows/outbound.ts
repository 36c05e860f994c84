import { isAnyAddress, isLoopback } from './address.js';
import { decodeTable, MIB_TCP_STATE } from './iphlp-decode.js';
import type { WindowsNative } from './native.js';
import type { NetstatRow } from './netstat-parse.js';
import type { ConnectAttempt, Family } from '../types.js';

/**
 * Outbound TCP connections from polls of the connection table (Windows has no connect() hook the
 * agent can use without a driver or ETW): a connection is reported once, at the first poll that
 * sees it, when its process connected out (its local port is not one that process listens on). A
 * connection opened and closed between two polls is never seen.
 */
export interface ConnectionRow {
  pid: number;
  family: Family;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface OutboundOptions {
  /** Report peers on loopback (127/8, ::1, v4-mapped 127/8) and the unspecified address too. */
  loopback: boolean;
  /** One event per process, peer address and peer port per window (0: every new connection). */
  windowMs: number;
  /** Connections tracked at most (open ones, to tell new from seen); beyond, new ones are not reported. */
  maxTracked?: number;
  /** Dedupe keys kept at most (process, peer, port within the window). */
  maxFolded?: number;
}

export interface OutboundStats {
  /** Events made, new connections folded by the window, skipped as loopback. */
  reported: number; suppressed: number; loopback: number;
  /** Open at the first poll (not reported: they were not attempted under the agent's eyes). */
  atStart: number;
  /** Polls whose table held more connections than the cap (their excess was not tracked). */
  overCap: number;
}

export const DEFAULT_MAX_TRACKED = 65_536;
const DEFAULT_MAX_FOLDED = 16_384;

/** States of a connection the process opened, or is closing: SYN_SENT, ESTABLISHED and the closing states that keep the owner. */
const OUTBOUND_STATES: ReadonlySet<number> = new Set([
  MIB_TCP_STATE.synSent, MIB_TCP_STATE.established, MIB_TCP_STATE.finWait1, MIB_TCP_STATE.finWait2,
  MIB_TCP_STATE.closeWait, MIB_TCP_STATE.closing, MIB_TCP_STATE.lastAck,
]);
const NETSTAT_STATES: ReadonlySet<string> = new Set(['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK']);

/** An IPv4 peer of an IPv6 socket (`::ffff:10.0.0.1`) as IPv4, like the Linux source; the zone dropped (ECS ip fields hold none). */
function plain(address: string): string {
  if (!address.includes(':')) return address;
  const pct = address.indexOf('%');
  const a = pct < 0 ? address : address.slice(0, pct);
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function row(pid: number, local: string, localPort: number, remote: string, remotePort: number): ConnectionRow {
  const remoteAddress = plain(remote);
  return { pid, family: remoteAddress.includes(':') ? 'ipv6' : 'ipv4', localAddress: plain(local), localPort, remoteAddress, remotePort };
}

/**
 * The IPv4 and IPv6 connection rows (TCP_TABLE_OWNER_PID_CONNECTIONS) in an outbound state;
 * undefined when both tables hold the same bytes as at the last call (`last`): nothing is new
 * (unless `decodeAnyway`: rows that waited must be looked at again).
 */
export function connectionsFromNative(native: WindowsNative, warnings: string[], last?: { tcp4?: Buffer; tcp6?: Buffer }, decodeAnyway = false): ConnectionRow[] | undefined {
  const tables = { tcp4: native.connections?.('tcp4') ?? Buffer.alloc(0), tcp6: native.connections?.('tcp6') ?? Buffer.alloc(0) };
  if (last !== undefined) {
    const same = last.tcp4?.equals(tables.tcp4) === true && last.tcp6?.equals(tables.tcp6) === true;
    Object.assign(last, tables);
    if (same && !decodeAnyway) return undefined;
  }
  const out: ConnectionRow[] = [];
  for (const kind of ['tcp4', 'tcp6'] as const) {
    const decoded = decodeTable(kind, tables[kind], 'pid');
    warnings.push(...decoded.warnings);
    for (const r of decoded.rows) {
      if (r.state === undefined || !OUTBOUND_STATES.has(r.state) || r.remoteAddress === undefined) continue;
      out.push(row(r.pid, r.address, r.port, r.remoteAddress, r.remotePort ?? 0));
    }
  }
  return out;
}

/** The same from `netstat -ano` rows (TCP, an outbound state, a PID column). */
export function connectionsFromNetstat(rows: readonly NetstatRow[]): ConnectionRow[] {
  const out: ConnectionRow[] = [];
  for (const r of rows) {
    if (r.transport !== 'tcp' || r.listener || r.pid === undefined || r.foreignPort === undefined) continue;
    if (r.state === undefined || !NETSTAT_STATES.has(r.state)) continue;
    out.push(row(r.pid, r.address, r.port, r.foreignAddress, r.foreignPort));
  }
  return out;
}

/** What the tracker needs to know of a connection's owner. */
export interface OwnerInfo { name: string; startKey: string; ppid?: number }

/** Whether `owner` is a child of the process `pid` (`parent`): its ppid, and started after it (a ppid left over from an exited parent whose pid was reused is older). */
function startedBy(owner: OwnerInfo, pid: number, parent: OwnerInfo): boolean {
  if (owner.ppid !== pid) return false;
  try {
    return BigInt(owner.startKey) >= BigInt(parent.startKey);
  } catch {
    return false;
  }
}

/**
 * Tells new outbound connections from those seen at the previous poll. Memory: the open
 * connections (at most `maxTracked`) and one dedupe key per process and peer within the window (at
 * most `maxFolded`, the oldest dropped first).
 */
export class OutboundTracker {
  private seen = new Set<string>();
  /** New connections whose process the last poll's process read did not hold: looked at again once. */
  private waiting = new Set<string>();
  private first = true;
  /** The last poll had connections over the cap: those it did not track are not new when they come under it. */
  private wasOver = false;
  /** Dedupe key -> when its last event was made and how many new connections were folded since. */
  private readonly folded = new Map<string, { at: number; suppressed: number }>();
  private readonly counters: OutboundStats = { reported: 0, suppressed: 0, loopback: 0, atStart: 0, overCap: 0 };
  private readonly maxTracked: number;
  private readonly maxFolded: number;

  constructor(private readonly o: OutboundOptions, private readonly selfPid = process.pid) {
    this.maxTracked = o.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.maxFolded = o.maxFolded ?? DEFAULT_MAX_FOLDED;
  }

  /**
   * This poll's rows -> the new outbound connections. `listening`: `pid|port` of TCP listeners (a
   * connection on such a port was accepted, not opened). `processOf`: name and start of the owner.
   * The first call only learns what is open.
   */
  update(rows: readonly ConnectionRow[], listening: ReadonlySet<string>, processOf: (pid: number) => OwnerInfo | undefined, now: number, warnings: string[]): ConnectAttempt[] {
    const self = processOf(this.selfPid);
    const next = new Set<string>();
    const waiting = new Set<string>();
    const out: ConnectAttempt[] = [];
    let over = 0;
    for (const r of rows) {
      // pid 0: no owner known (wine before the process touched the socket); the agent's own are not findings.
      if (r.pid === 0 || r.pid === this.selfPid || listening.has(`${r.pid}|${r.localPort}`)) continue;
      const key = `${r.pid}|${r.localAddress}|${r.localPort}|${r.remoteAddress}|${r.remotePort}`;
      if (next.has(key) || waiting.has(key)) continue;
      if (next.size + waiting.size >= this.maxTracked) { over++; continue; }
      if (this.seen.has(key) || this.first || this.wasOver) {
        next.add(key);
        if (this.first) this.counters.atStart++;
        continue;
      }
      if (!this.o.loopback && (isLoopback(r.remoteAddress) || isAnyAddress(r.remoteAddress))) { next.add(key); this.counters.loopback++; continue; }
      const owner = processOf(r.pid);
      // A process started after this poll read the process table (while it waited on PowerShell or
      // executables) and connected before the connection table was read: named at the next poll.
      if (owner === undefined && !this.waiting.has(key)) { waiting.add(key); continue; }
      next.add(key);
      // The agent's own children (its PowerShell session fetching a CRL while it checks a
      // signature, netstat): not findings, as the agent's own connections are not.
      if (owner !== undefined && self !== undefined && startedBy(owner, this.selfPid, self)) continue;
      const suppressed = this.fold(`${r.pid}|${owner?.startKey ?? ''}|${r.remoteAddress}|${r.remotePort}`, now);
      if (suppressed === undefined) continue;
      this.counters.reported++;
      out.push({
        pid: r.pid, name: owner?.name ?? '', netns: 'host', transport: 'tcp', family: r.family,
        sourceAddress: r.localAddress, sourcePort: r.localPort, destinationAddress: r.remoteAddress, destinationPort: r.remotePort, suppressed,
      });
    }
    if (over > 0) {
      this.counters.overCap++;
      warnings.push(`outbound connections: ${over} open connections over the cap of ${this.maxTracked} tracked were not looked at; new ones among them are not reported`);
    }
    this.seen = next;
    this.waiting = waiting;
    this.first = false;
    this.wasOver = over > 0;
    return out;
  }

  /** undefined: folded into the last event of this key; else the count folded since, to report with this event. */
  private fold(key: string, now: number): number | undefined {
    if (this.o.windowMs <= 0) return 0;
    const last = this.folded.get(key);
    if (last !== undefined && now - last.at < this.o.windowMs) {
      last.suppressed++;
      this.counters.suppressed++;
      return undefined;
    }
    const suppressed = last?.suppressed ?? 0;
    this.folded.delete(key);
    this.folded.set(key, { at: now, suppressed: 0 });
    // Map order is insertion order: the first keys are the oldest events. Only the front is pruned
    // (no walk past kept keys: each event costs O(1), however many keys went stale with folds).
    // A key past its window with connections folded in stays until its next event carries them, or the cap.
    for (const [k, v] of this.folded) {
      if (this.folded.size <= this.maxFolded && (now - v.at < this.o.windowMs || v.suppressed > 0)) break;
      this.folded.delete(k);
    }
    return suppressed;
  }

  stats(): OutboundStats { return { ...this.counters }; }

  /** New connections wait for their process: the next poll must look at the table even if its bytes are the same. */
  get pending(): boolean { return this.waiting.size > 0; }
}
