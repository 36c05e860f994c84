/**
 * The Linux real-time feed: picks the best producer this host allows and says why the better ones
 * did not run. eBPF (exec, fork, exit, TCP listen and close, UDP bind; native/realtime/) -> the
 * proc connector (fork, exec, exit; listeners by polling) -> off (polling only). UDP sockets'
 * ends come from sock_diag destroy notifications in both real-time modes.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../log/logger.js';
import { errorMessage } from '../../../util/errors.js';
import { loadNativeAddon } from '../../../util/native-addon.js';
import type { ProcessRecord, RealtimeEvent, RealtimeFeed, RealtimeStatus } from '../../types.js';
import { seesInitPidNs } from '../listing-gate.js';
import type { ProcessReadContext } from '../process-reader.js';
import { RecordConverter } from './convert.js';
import { parseRecords } from './records.js';

export type RealtimeMode = 'auto' | 'ebpf' | 'proc_connector' | 'off';

/** A kernel-side producer as the addons expose it (native/realtime/addon.c, netlink_addon.c). */
interface Producer {
  /** `err` when the producer stopped for good (its socket failed); `buf` then holds what came before. */
  start(callback: (buf: Buffer, err?: Error) => void): void;
  close(): void;
  lost(): number;
  describe?(): unknown;
}

interface EbpfAddon {
  openEbpf(opts: {
    object: string; ringBytes: number; prefer?: 'tp_btf' | 'tracepoint'; flushMs?: number;
    connections?: { loopback: boolean; windowMs: number };
  }): Producer & { connStats?(): { reported: number; suppressed: number; loopback: number } };
}

/** Outbound connection attempts: off (no program attached), or on with these kernel-side filters. */
export interface ConnectionOptions {
  /** Report peers on loopback too. */
  loopback: boolean;
  /** One event per process, peer address and port per this many ms (0: every attempt). */
  windowMs: number;
}

interface NetlinkAddon {
  openProcConnector(opts: { readProc: boolean }): Producer;
  openSockDestroy(opts: { netnsPath?: string; tcp: boolean }): Producer;
}

const NATIVE = new URL('../../../../native/', import.meta.url);
/**
 * While records flow (a busy host), the ring buffer is drained every this many ms instead of a
 * wakeup per record (13-18 µs of kernel time each); an idle host gets a wakeup per record.
 */
const FLUSH_MS = 10;

export interface FeedOptions {
  requested: RealtimeMode;
  /** Ring buffer size in bytes (a power of two; rounded up here). */
  ringBytes: number;
  ctx: ProcessReadContext;
  polled: ReadonlyMap<number, ProcessRecord>;
  logger: Logger;
  /** Where the addons and the BPF object are (tests); default dist/native. */
  nativeDir?: string;
  /** Outbound connections (eBPF only); absent: not watched, the program is not attached. */
  connections?: ConnectionOptions;
}

const NO_CONNECTIONS = 'outbound connections are not seen: the proc connector has no socket events (eBPF is needed)';

/** The addon's error text up to libbpf's own diagnostics (logged at debug level, not repeated in events). */
function reasonOf(err: unknown, prefix: string): string {
  const text = errorMessage(err);
  const cut = text.indexOf('; libbpf:');
  const short = cut === -1 ? text : text.slice(0, cut);
  return short.startsWith(`${prefix}: `) ? short.slice(prefix.length + 2) : short;
}

function roundRing(bytes: number): number {
  let n = 4096;
  while (n < bytes && n < 1 << 30) n *= 2;
  return n;
}

function describeBlind(p: Producer): string[] {
  try {
    const d = p.describe?.() as { missing?: unknown } | undefined;
    return Array.isArray(d?.missing) ? d.missing.filter((m): m is string => typeof m === 'string') : [];
  } catch {
    return [];
  }
}

/** Opens the producers; `start` never throws: a path that cannot run is a reason in the status. */
export class LinuxRealtimeFeed implements RealtimeFeed {
  private readonly producers: Producer[] = [];
  private ebpf: ReturnType<EbpfAddon['openEbpf']> | undefined;
  private readonly converter: RecordConverter;
  private handler: ((events: RealtimeEvent[]) => void) | undefined;
  private st: RealtimeStatus;
  private malformed = 0;

  constructor(private readonly o: FeedOptions) {
    this.converter = new RecordConverter({ ctx: o.ctx, polled: o.polled });
    this.st = { requested: o.requested, mode: 'off', reasons: [], blind: [], listenersRealtime: false };
  }

  private path(file: string): string {
    return this.o.nativeDir === undefined ? fileURLToPath(new URL(file, NATIVE)) : `${this.o.nativeDir}/${file}`;
  }

  /** Opens the best producer allowed by the config and the host. */
  open(): RealtimeStatus {
    const want = this.o.requested;
    if (want === 'off') {
      this.st.reasons.push('real-time source off in the config (source.realtime: off)');
      return this.st;
    }
    if (!seesInitPidNs(this.o.ctx.procRoot)) {
      this.st.reasons.push('the agent is not in the host\'s pid namespace: the kernel\'s pids would not match /proc (run it with the host\'s pid namespace: hostPID, --pid=host)');
      return this.st;
    }
    if (want === 'auto' || want === 'ebpf') {
      const why = this.openEbpf();
      if (why === undefined) return this.withDestroyWatch();
      this.st.reasons.push(`eBPF: ${why}`);
      if (want === 'ebpf') return this.st;
    }
    const why = this.openProcConnector();
    if (why === undefined) return this.withDestroyWatch();
    this.st.reasons.push(`proc connector: ${why}`);
    return this.st;
  }

  private openEbpf(): string | undefined {
    const object = this.path('portwarden.bpf.o');
    const mod = loadNativeAddon(this.path('realtime.node')) as Partial<EbpfAddon> | undefined;
    const openEbpf = mod?.openEbpf;
    if (typeof openEbpf !== 'function') return 'not built (realtime.node missing: no clang, bpftool or libbpf at build time)';
    if (!existsSync(object)) return 'not built (portwarden.bpf.o missing)';
    const conn = this.o.connections;
    const openWith = (c: ConnectionOptions | undefined): ReturnType<EbpfAddon['openEbpf']> =>
      openEbpf.call(mod, { object, ringBytes: roundRing(this.o.ringBytes), flushMs: FLUSH_MS, ...(c === undefined ? {} : { connections: c }) });
    try {
      let p: ReturnType<EbpfAddon['openEbpf']>;
      let refused: string | undefined;
      try {
        p = openWith(conn);
      } catch (err) {
        // The connection program is optional and on by default: a kernel whose verifier refuses it
        // (one object: any program that fails to load fails them all) keeps the rest of eBPF.
        if (conn === undefined || (err as NodeJS.ErrnoException).code === 'EPERM') throw err;
        p = openWith(undefined);
        refused = reasonOf(err, 'eBPF');
        this.o.logger.debug(`real-time source: eBPF with the connection program could not run: ${errorMessage(err)}`);
      }
      this.producers.push(p);
      this.ebpf = p;
      this.st.mode = 'ebpf';
      this.st.listenersRealtime = true;
      const blind = describeBlind(p);
      if (refused !== undefined) blind.push(`outbound connections are not seen: the connection program could not be loaded (${refused})`);
      this.st.blind.push(...blind);
      this.st.connections = conn !== undefined && !blind.some((b) => b.startsWith('outbound connections'));
      return undefined;
    } catch (err) {
      this.o.logger.debug(`real-time source: eBPF could not run: ${errorMessage(err)}`);
      return reasonOf(err, 'eBPF');
    }
  }

  private netlink(): Partial<NetlinkAddon> | undefined {
    return loadNativeAddon(this.path('netlink_events.node'));
  }

  private openProcConnector(): string | undefined {
    const mod = this.netlink();
    if (typeof mod?.openProcConnector !== 'function') return 'not built (netlink_events.node missing: no C compiler at build time)';
    try {
      this.producers.push(mod.openProcConnector({ readProc: true }));
      this.st.mode = 'proc_connector';
      if (this.o.connections !== undefined) this.st.blind.push(NO_CONNECTIONS);
      this.st.blind.push(
        'proc connector: listeners are seen by polling only (a listener that opens and closes between two polls is missed)',
        'proc connector: a process that exits or execs again within about a millisecond of its exec may be reported without its name and command line, or as what it became (read from /proc after the event)',
      );
      return undefined;
    } catch (err) {
      return reasonOf(err, 'proc connector');
    }
  }

  /** UDP sockets have no state change to trace: their ends come from sock_diag's destroy groups. */
  private withDestroyWatch(): RealtimeStatus {
    const mod = this.netlink();
    if (this.st.mode !== 'ebpf') return this.st;
    if (typeof mod?.openSockDestroy !== 'function') {
      this.st.blind.push('UDP listeners closing are seen by polling only (netlink_events.node not built)');
      return this.st;
    }
    try {
      this.producers.push(mod.openSockDestroy({ tcp: false }));
      this.st.blind.push('UDP listeners in other network namespaces than the agent\'s are seen closing by polling only');
    } catch (err) {
      this.st.blind.push(`UDP listeners closing are seen by polling only (${errorMessage(err)})`);
    }
    return this.st;
  }

  status(): RealtimeStatus {
    return this.st;
  }

  subscribe(handler: (events: RealtimeEvent[]) => void): void {
    this.handler = handler;
    for (const p of this.producers) {
      p.start((buf, err) => {
        this.deliver(buf);
        if (err !== undefined) this.failed(err);
      });
    }
  }

  private deliver(buf: Buffer): void {
    const { records, malformed } = parseRecords(buf);
    if (malformed > 0) {
      this.malformed += malformed;
      this.o.logger.warn('real-time source: a delivery ended in bytes that are not a record; the rest of it was skipped', { bytes: malformed, total: this.malformed });
    }
    const events: RealtimeEvent[] = [];
    try {
      this.converter.convert(records, events);
    } catch (err) {
      this.o.logger.error(`real-time source: converting kernel records failed: ${errorMessage(err)}`);
    }
    if (events.length > 0) this.handler?.(events);
  }

  /** A producer that stopped: said once in the log and in-band (a `lost` event of count 0), polling carries on. */
  private failed(err: Error): void {
    this.o.logger.error(`real-time source: a kernel producer stopped: ${err.message}; polling continues at its interval`);
    this.st.blind.push(`stopped: ${err.message}`);
    // Polls go back to the full interval: listeners are no longer seen as they change.
    this.st.listenersRealtime = false;
    this.handler?.([{ kind: 'lost', count: 0, at: Date.now(), producer: err.message }]);
  }

  lost(): number {
    let n = 0;
    for (const p of this.producers) {
      try { n += p.lost(); } catch { /* a closed producer counts nothing more */ }
    }
    return n;
  }

  connectionStats(): { reported: number; suppressed: number; loopback: number } {
    try {
      return this.ebpf?.connStats?.() ?? { reported: 0, suppressed: 0, loopback: 0 };
    } catch {
      return { reported: 0, suppressed: 0, loopback: 0 };
    }
  }

  close(): void {
    for (const p of this.producers.splice(0)) {
      try { p.close(); } catch { /* closing twice is harmless */ }
    }
    this.handler = undefined;
  }
}
