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
  uid?: number;
  userName?: string;
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
  /** Windows extras. */
  originalFileName?: string;
  codeSignature?: { exists: boolean; trusted?: boolean; subjectName?: string };
  sha256?: string;
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
  /** The network namespace the agent runs in, as listener records name it (Linux, once started). */
  ownNetns?: string;
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
}

/**
 * A platform collector. `poll()` never throws for per-item problems (they become warnings);
 * it rejects only when the whole collector is blind (e.g. /proc unreadable).
 */
export interface Source extends Lifecycle {
  info(): SourceInfo;
  poll(): Promise<Snapshot>;
}
