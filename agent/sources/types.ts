import type { Lifecycle } from '../util/lifecycle.js';

export type Transport = 'tcp' | 'udp';
export type Family = 'ipv4' | 'ipv6';

/** One listening socket: TCP in LISTEN, or UDP bound and unconnected. */
export interface ListenerRecord {
  /** Network namespace id (Linux: the netns inode, e.g. "4026531840"); "host" where the OS has none. */
  netns: string;
  transport: Transport;
  family: Family;
  /** Local address as text: `0.0.0.0`, `::`, `127.0.0.1`, `fe80::1` (an IPv6 zone travels in `zone`). */
  address: string;
  port: number;
  /** Socket inode (Linux) or 0 where the OS has no such id. */
  inode: number;
  /** Pids holding the socket, oldest first; empty when it cannot be attributed (privileges). */
  owners: number[];
  /** Socket owner uid (Linux sock_diag / /proc/net), when known, and its user name. */
  uid?: number;
  userName?: string;
  /** Windows: the owning service name (OWNER_MODULE tables). */
  serviceName?: string;
  /** Windows: when the socket was bound (ISO time), where the OS records it. */
  boundAt?: string;
  /** Windows firewall verdict for this listener, where evaluated. */
  firewall?: 'allowed' | 'blocked' | 'unknown';
}

/**
 * One established TCP connection a process holds (Linux: sock_diag), as the relay watch reads it
 * for listening processes. Which side accepted it is for the caller to say (it knows the listeners).
 */
export interface ConnectionRecord {
  /** The holding process. */
  pid: number;
  /** Network namespace id, as ListenerRecord.netns. */
  netns: string;
  family: Family;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  inode: number;
  /**
   * Bytes the process has read from and written to the connection so far, when the kernel says
   * (Linux 4.1+). On a connection the process opened, Linux counts its SYN as one byte written.
   */
  bytesRead?: number;
  bytesWritten?: number;
}

/** One process as the OS shows it. */
export interface ProcessRecord {
  pid: number;
  ppid: number;
  /**
   * Exact, stable start key as the OS gives it (Linux: start ticks since boot; Windows: creation
   * FILETIME; macOS: lstart seconds). Two records with the same pid and startKey are one process.
   */
  startKey: string;
  /** Start time, ISO 8601 with milliseconds. */
  start: string;
  /** Short name (Linux comm, or the basename of the executable where comm is truncated). */
  name: string;
  executable?: string;
  /** True when the executable was deleted or replaced on disk after the process started. */
  executableDeleted?: boolean;
  args?: string[];
  commandLine?: string;
  workingDirectory?: string;
  /** Effective uid (Linux), the one that decides what the process may do; `userName` is its name. */
  uid?: number;
  userName?: string;
  /**
   * Linux: the real uid (who started it), when known. It differs from `uid` in a setuid program
   * and in whatever that program runs without dropping privileges (`sh -p`).
   */
  realUid?: number;
  realUserName?: string;
  /** Linux: the effective user's login shell refuses logins (nologin, false in /etc/passwd): a service account. */
  userNoLogin?: true;
  /** Windows: `DOMAIN` part of `DOMAIN\user`. */
  userDomain?: string;
  /** Linux: process group and session leader pids. */
  pgid?: number;
  sid?: number;
  /**
   * Linux: what the process's stdin is; `tcp` when it is a TCP connection (checked for shells and
   * interpreters only: a reverse or bind shell), `socket` for other sockets.
   */
  stdin?: 'tcp' | 'socket' | 'pipe' | 'tty' | 'null' | 'file';
  /** Linux, shell-like programs only: what their stdout is (the same kinds as stdin). */
  stdout?: 'tcp' | 'socket' | 'pipe' | 'tty' | 'null' | 'file';
  /** Network namespace id the process lives in (matches ListenerRecord.netns). */
  netns?: string;
  containerId?: string;
  /**
   * Only the basics were read so far (Linux: stat, uid and network namespace, when many processes
   * appear at once after the first poll, a fork storm). The source completes the record on a later poll with a
   * new object (same pid and startKey); the watch holds the process's event until then. Records of
   * listener owners and their ancestors are never pending.
   */
  detailsPending?: true;
  /**
   * The process was already running when the source first listed processes, but its record was
   * read on a later poll (Linux: the first scan reads listener owners and their ancestors at once,
   * the rest over the next polls). The watch reports it as `already_running`, not as a new process.
   */
  existing?: true;
  /**
   * Made from a real-time event (fork or exec), not read from the OS's process list: a later read
   * of the same process (pid and start) completes it without counting as an exec.
   */
  realtime?: true;
  /** The command line was cut (kernel or /proc bounds); `args` holds the first part only. */
  argsTruncated?: true;
  /** The real number of arguments when `args` was cut (a cut `args` is shorter). */
  argsCount?: number;
  /** Windows extras. */
  originalFileName?: string;
  codeSignature?: { exists: boolean; trusted?: boolean; subjectName?: string };
  /** Windows: the executable's VS_VERSIONINFO strings and import hash (agent/sources/pe/). */
  pe?: { description?: string; product?: string; company?: string; fileVersion?: string; imphash?: string };
  md5?: string;
  sha1?: string;
  sha256?: string;
  /** Windows: the token's mandatory integrity level, as Sysmon names it (`Medium`, `High`, `System`). */
  integrityLevel?: string;
}

/** What the collector can see on this host, said once at start-up. */
export interface SourceInfo {
  /** `linux`, `windows`, `darwin`, or `systeminformation` (the portable fallback). */
  platform: string;
  /** How listeners are read, e.g. `sock_diag via ss -ltnuHe` or `/proc/net (fallback)`. */
  listenerPath: string;
  processPath: string;
  /** False when other users' sockets or processes cannot be attributed. */
  privileged: boolean;
  /** Human sentences about reduced visibility, each said once. */
  limitations: string[];
  /** The real-time path (Linux, the agent only): which runs and why a better one does not. */
  realtime?: RealtimeStatus;
  /** The network namespace the agent runs in, as listener records name it (Linux, once started). */
  ownNetns?: string;
}

/**
 * What a real-time source saw as it happened (Linux: eBPF or the proc connector), in kernel order.
 * `at` is epoch ms of the event itself. Applied by the watch to the same process table and listener
 * set that polling fills; polling reconciles what the real-time path missed.
 */
export type RealtimeEvent =
  /** A new process (fork), before any exec: the parent's image, captured with its parent at once. */
  | { kind: 'fork'; record: ProcessRecord; at: number }
  /** A process replaced its image. */
  | { kind: 'exec'; record: ProcessRecord; at: number }
  | { kind: 'exit'; pid: number; startKey: string; at: number }
  /**
   * A TCP socket entered LISTEN or a UDP socket was bound; `owners` holds the calling process.
   * `ownerRecord` is its record when the source read it for this event (not seen before).
   */
  | { kind: 'listen'; record: ListenerRecord & { zone?: string }; ownerRecord?: ProcessRecord; at: number }
  /** A TCP socket left LISTEN, or a bound UDP socket was destroyed (matched by inode, else address). */
  | { kind: 'unlisten'; record: ListenerRecord; at: number }
  /**
   * An outbound connection attempt (TCP connect()), by the calling process. `ownerRecord` is its
   * record when the source read it for this event (not seen before, or seen under another name:
   * an exec the kernel side lost). `ownerStale`: the process known under this pid and start runs
   * another image now and is gone, so only the kernel's pid and name describe it.
   */
  | { kind: 'connect'; record: ConnectAttempt; ownerRecord?: ProcessRecord; ownerStale?: true; at: number }
  /** Events the kernel side dropped (ring buffer full, netlink overrun): polling reconciles. */
  | { kind: 'lost'; count: number; at: number; producer: string };

/** One outbound connection attempt as the kernel saw it (Linux eBPF: connect() entering SYN_SENT). */
export interface ConnectAttempt {
  /** The connecting process (thread group) and its name at the time (kernel comm). */
  pid: number;
  name: string;
  /** Network namespace inode of the socket, `unknown` when not known. */
  netns: string;
  transport: 'tcp';
  family: 'ipv4' | 'ipv6';
  /** Local address, '' when not known yet; local port, 0 when not assigned yet. */
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** Earlier attempts of this process to this peer folded into the previous event (kernel dedupe window). */
  suppressed: number;
  uid?: number;
}

/** Which real-time path runs, and why a better one does not. */
export interface RealtimeStatus {
  /** What the config asked for: `auto`, `ebpf`, `proc_connector` or `off`. */
  requested: string;
  /** What runs: `ebpf`, `proc_connector` or `off`. */
  mode: 'ebpf' | 'proc_connector' | 'off';
  /** Why better paths do not run, e.g. `eBPF: bpf_object__load: Operation not permitted (needs CAP_BPF ...)`. */
  reasons: string[];
  /** What the running path does not see, said once (e.g. UDP binds without tracefs). */
  blind: string[];
  /** Whether listeners are seen as they open and close (eBPF) or by polling only. */
  listenersRealtime: boolean;
  /** Whether outbound connections are seen (eBPF with the connection program attached). */
  connections?: boolean;
}

/** A source's real-time feed: events between polls. */
export interface RealtimeFeed {
  status(): RealtimeStatus;
  /** Starts delivery; the handler gets each kernel delivery's events at once, in order. */
  subscribe(handler: (events: RealtimeEvent[]) => void): void;
  /** Kernel-side drops so far. */
  lost(): number;
  /** The kernel's connection counters so far: attempts recorded, folded by the dedupe window, skipped as loopback. */
  connectionStats?(): { reported: number; suppressed: number; loopback: number };
  close(): void;
}

export interface Snapshot {
  takenAt: Date;
  listeners: ListenerRecord[];
  /**
   * The live process table. Implementations may reuse unchanged records between ticks (identity
   * comparison is allowed) and only read details for new pids. Right after start a source may
   * leave processes out until it has read them (Linux, a busy host's first poll: all but listener
   * owners and their ancestors); they come in later records marked `existing`.
   */
  processes: Map<number, ProcessRecord>;
  /** Problems met during this poll (malformed lines, vanished pids); reported, never fatal. */
  warnings: string[];
  /**
   * What changed since the previous poll, when the source knows: `false` lets the watch skip work
   * on a steady-state tick. Absent means "assume both changed". `listeners: false` promises the same
   * listening sockets with the same owners (no owner gone, none added, no owner's pid taken by a
   * new process): the watch then skips the listener diff, also when processes changed.
   */
  changed?: { processes: boolean; listeners: boolean };
  /**
   * Outbound connections this poll saw first (Windows, which the agent cannot hook at connect():
   * a poll of the connection table). The watch applies them as the real-time `connect` events.
   */
  connects?: ConnectAttempt[];
}

/**
 * A platform collector. `poll()` never throws for per-item problems (they become warnings);
 * it rejects only when the whole collector is blind (e.g. /proc unreadable).
 */
export interface Source extends Lifecycle {
  info(): SourceInfo;
  poll(): Promise<Snapshot>;
  /** The real-time feed, where the platform has one and it runs (after start()). */
  realtime?(): RealtimeFeed | undefined;
  /**
   * The process `pid` and its ancestors, child first, read now when the source has left them out of
   * its snapshots so far (a busy host's first poll): a real-time fork or exec below a process not
   * read yet needs its parents in the table before it, or its lineage stops there.
   */
  ancestry?(pid: number): ProcessRecord[];
  /**
   * The established TCP connections the processes `pids` hold now, each listed once per holder;
   * empty where the source cannot read them (no sock_diag addon). Read only when asked: it costs a
   * dump of the namespaces' connections and a walk of these processes' fd tables.
   */
  connections?(pids: readonly number[]): ConnectionRecord[];
  /** A polling source's outbound-connection counters (`Snapshot.connects`), as RealtimeFeed.connectionStats; undefined when not watched. */
  connectionStats?(): { reported: number; suppressed: number; loopback: number } | undefined;
}
