import { closeSync, openSync, readFileSync, readSync, readlinkSync, readdirSync, statSync } from 'node:fs';
import type { ProcessRecord } from '../types.js';
import {
  classifyFdLink, joinCommandLine, parseCgroupContainerId, parseCmdline, parseNoLoginUids, parseNsLink, parsePasswd, parseSocketLink,
  parseStat, parseStatusUids, parseTaskCounters, setExecutable, tcpInodes,
} from './proc-parsers.js';
import type { SockDiag } from './sock-diag.js';

/** Classifies fd 0 or 1; a socket of a program ctx.stdinChecked accepts is looked up in its namespace's TCP table. */
function fdKindOf(base: string, fd: 0 | 1, comm: string, ctx: ProcessReadContext): ProcessRecord['stdin'] {
  const link = tryReadlink(`${base}/fd/${fd}`);
  if (link === undefined) return undefined;
  const kind = classifyFdLink(link);
  if (kind !== 'socket' || ctx.stdinChecked?.(comm) !== true) return kind;
  // The socket's own protocol, in O(1): every child that node or python starts with piped stdio
  // has a UNIX socket there, and the TCP tables below list every connection of the namespace
  // (4 MB and 100-250 ms on a host with 20,000 of them).
  const proto = ctx.socketProtocol?.(`${base}/fd/${fd}`);
  if (proto !== undefined) return /^(?:MP)?TCP/.test(proto) ? 'tcp' : 'socket';
  const inode = parseSocketLink(link) ?? 0;
  for (const f of ['tcp', 'tcp6']) {
    const text = tryRead(`${base}/net/${f}`, 64 * 1024 * 1024);
    if (text !== undefined && tcpInodes(text.toString('latin1')).has(inode)) return 'tcp';
  }
  return 'socket';
}

/** Longest command line kept per process; the rest is cut (and flagged by the document builder). */
export const MAX_CMDLINE_BYTES = 256 * 1024;

const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads a /proc file with open + read + close into a reused buffer (readFileSync adds an fstat and
 * grows buffers; /proc files report size 0). Returns a copy, or undefined when unreadable.
 */
function tryRead(path: string, max = MAX_CMDLINE_BYTES, untilEof = true): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    // Multi-record seq_files (/proc/<pid>/net/tcp) and large cmdlines return short reads before
    // EOF, so read until 0; one-record files (stat, cgroup) come whole in the first read.
    let n = readSync(fd, scratch, 0, scratch.length, null);
    let total = n;
    while (untilEof && n > 0 && total < scratch.length) {
      n = readSync(fd, scratch, total, scratch.length - total, null);
      total += n;
    }
    if (n === 0 || !untilEof || total >= max) return Buffer.from(scratch.subarray(0, Math.min(total, max)));
    const parts = [Buffer.from(scratch.subarray(0, total))];
    while (n > 0 && total < max) {
      const chunk = Buffer.allocUnsafe(Math.min(256 * 1024, max - total));
      n = readSync(fd, chunk, 0, chunk.length, null);
      parts.push(chunk.subarray(0, n));
      total += n;
    }
    return Buffer.concat(parts);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Arguments in the part of a command line past `from` bytes (NULs end arguments), read in chunks
 * and not kept: a cut command line still reports its real argument count. Up to 64 MiB.
 */
function countArgsFrom(path: string, from: number, firstCut: boolean): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    let nuls = 0;
    let last = 0;
    for (let pos = from, n = 1; n > 0 && pos < from + 64 * 1024 * 1024; pos += n) {
      n = readSync(fd, scratch, 0, scratch.length, pos);
      for (let i = 0; i < n; i++) if (scratch[i] === 0) nuls++;
      if (n > 0) last = scratch[n - 1] ?? 0;
    }
    // The argument cut at `from` was already counted by the caller.
    return nuls + (last !== 0 ? 1 : 0) - (firstCut ? 1 : 0);
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

function tryReadlink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Numeric entries of /proc: the live pids. */
export function listPids(procRoot: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

/** uid -> user name from /etc/passwd, re-read when the file changes. */
export class UserNames {
  private names = new Map<number, string>();
  private noLoginUids = new Set<number>();
  private mtimeMs = -1;
  private checkedAt = -Infinity;

  constructor(private readonly passwdPath = '/etc/passwd', private readonly now: () => number = Date.now) {}

  lookup(uid: number): string | undefined {
    this.refresh();
    return this.names.get(uid);
  }

  /** Whether the account's login shell refuses logins (nologin, false): a service account. */
  noLogin(uid: number): boolean {
    this.refresh();
    return this.noLoginUids.has(uid);
  }

  private refresh(): void {
    // At most one stat of /etc/passwd per 10 s, however many processes are read.
    if (this.now() - this.checkedAt > 10_000) {
      this.checkedAt = this.now();
      try {
        const m = statSync(this.passwdPath).mtimeMs;
        if (m !== this.mtimeMs) {
          const text = readFileSync(this.passwdPath, 'utf8');
          this.names = parsePasswd(text);
          this.noLoginUids = parseNoLoginUids(text);
          this.mtimeMs = m;
        }
      } catch {
        // No passwd (scratch containers): ids only.
      }
    }
  }
}

export interface ProcessReadContext {
  procRoot: string;
  bootTimeMs: number;
  clockTicks: number;
  users: UserNames;
  /** The protocol of the socket behind an fd link (the sock_diag addon); absent without it. */
  socketProtocol?: (fdPath: string) => string | undefined;
  /**
   * Whether a socket on the stdin of a process named `comm` is checked for TCP (stdin `tcp`, not
   * `socket`): detection policy, agent/detect/shell-like.ts. Absent: none is.
   */
  stdinChecked?: (comm: string) => boolean;
}

/**
 * How much of a process to read. `light` reads stat, the owner uid and the network namespace (what
 * process lineage, the owner search and namespace discovery need) and marks the record
 * `detailsPending`; `full` adds the command line, executable, working directory, stdin kind and
 * container id.
 */
export type ReadDepth = 'light' | 'full';

/** The record every read starts from: stat fields, uid and user, network namespace. */
function baseRecord(pid: number, statText: string, uid: number, nsLink: string | undefined, ctx: ProcessReadContext): ProcessRecord | undefined {
  const stat = parseStat(statText);
  if (stat === undefined) return undefined;
  const startMs = ctx.bootTimeMs + (Number(stat.startTicks) * 1000) / ctx.clockTicks;
  const rec: ProcessRecord = {
    pid,
    ppid: stat.ppid,
    startKey: stat.startTicks,
    start: new Date(Math.round(startMs)).toISOString(),
    name: stat.comm,
    pgid: stat.pgrp,
    sid: stat.session,
    uid,
  };
  const name = ctx.users.lookup(uid);
  if (name !== undefined) rec.userName = name;
  if (ctx.users.noLogin(uid)) rec.userNoLogin = true;
  const netns = nsLink === undefined ? undefined : parseNsLink(nsLink);
  if (netns !== undefined) rec.netns = netns;
  return rec;
}

/** Which of the `full` reads a caller that already has the answer skips (each read by default). */
export interface DetailReads {
  /** The command line (a caller with the kernel's argv). */
  cmdline?: boolean;
  /** The uids from status (a caller with the kernel's credentials: the record keeps the owner of /proc/<pid>). */
  status?: boolean;
  exe?: boolean; // the executable link (a caller that read it already)
}

/**
 * Reads one process from /proc. Returns undefined when it vanished or its stat is unreadable;
 * every other field is best effort (another user's exe/cwd need privileges).
 */
export function readProcess(pid: number, ctx: ProcessReadContext, depth: ReadDepth = 'full', opts: DetailReads = {}): ProcessRecord | undefined {
  const base = `${ctx.procRoot}/${pid}`;
  let uid: number;
  try {
    uid = statSync(base).uid;
  } catch {
    return undefined;
  }
  const statBuf = tryRead(`${base}/stat`, 4096, false);
  if (statBuf === undefined) return undefined;
  const rec = baseRecord(pid, statBuf.toString('utf8'), uid, tryReadlink(`${base}/ns/net`), ctx);
  if (rec === undefined) return undefined;
  if (depth === 'light') {
    rec.detailsPending = true;
    return rec;
  }
  completeProcess(rec, ctx, opts);
  return rec;
}

/** The `full` part of a read into rec (stat fields known): command line, exe, stdin, cwd, container; opts skips some. */
export function completeProcess(rec: ProcessRecord, ctx: ProcessReadContext, opts: DetailReads = {}): void {
  const base = `${ctx.procRoot}/${rec.pid}`;
  readDetails(base, rec.name, rec, ctx, opts);
  const cgroup = tryRead(`${base}/cgroup`, 64 * 1024, false);
  const containerId = cgroup === undefined ? undefined : parseCgroupContainerId(cgroup.toString('utf8'));
  if (containerId !== undefined) rec.containerId = containerId;
}

/**
 * Light reads of many processes (`detailsPending` records), in one native call when the sock_diag
 * addon is built, else one by one. Vanished pids are left out.
 */
export function readLight(pids: readonly number[], ctx: ProcessReadContext, diag: SockDiag | undefined): ProcessRecord[] {
  const basics = diag?.basics(ctx.procRoot, Uint32Array.from(pids));
  const out: ProcessRecord[] = [];
  if (basics === undefined) {
    for (const pid of pids) {
      const rec = readProcess(pid, ctx, 'light');
      if (rec !== undefined) out.push(rec);
    }
    return out;
  }
  for (let i = 0; i < basics.length; i++) {
    const b = basics[i];
    if (b === undefined) continue;
    const rec = baseRecord(b.pid, b.stat, b.uid, b.netnsLink === '' ? undefined : b.netnsLink, ctx);
    if (rec === undefined) continue;
    rec.detailsPending = true;
    out.push(rec);
  }
  return out;
}

/** What the first scan keeps of a process it reads in full later (process-details.ts). */
export interface ListedProcess {
  pid: number;
  ppid: number;
  startKey: string;
  netns?: string;
}

/**
 * Parent, start and network namespace of each pid: in one native call when the addon has it, else
 * from its stat and ns/net link. Vanished pids are left out.
 */
export function readListed(pids: readonly number[], procRoot: string, diag: SockDiag | undefined): ListedProcess[] {
  const out: ListedProcess[] = [];
  const raw = diag?.starts(procRoot, Uint32Array.from(pids));
  if (raw !== undefined) {
    for (let i = 0; i + 3 < raw.length; i += 4) {
      const netns = raw[i + 3] ?? 0;
      const p: ListedProcess = { pid: raw[i] ?? 0, ppid: raw[i + 1] ?? 0, startKey: String(raw[i + 2] ?? 0) };
      if (netns > 0) p.netns = String(netns);
      out.push(p);
    }
    return out;
  }
  for (const pid of pids) {
    const buf = tryRead(`${procRoot}/${pid}/stat`, 4096, false);
    const stat = buf === undefined ? undefined : parseStat(buf.toString('utf8'));
    if (stat === undefined) continue;
    const link = tryReadlink(`${procRoot}/${pid}/ns/net`);
    const netns = link === undefined ? undefined : parseNsLink(link);
    out.push({ pid, ppid: stat.ppid, startKey: stat.startTicks, ...(netns === undefined ? {} : { netns }) });
  }
  return out;
}

/** Command line, executable (and the full name it implies), stdin kind and working directory. */
function readDetails(base: string, comm: string, rec: ProcessRecord, ctx: ProcessReadContext, opts: DetailReads): void {
  const cmd = opts.cmdline !== false ? tryRead(`${base}/cmdline`) : undefined;
  if (cmd !== undefined && cmd.length > 0) {
    const args = parseCmdline(cmd);
    rec.args = args;
    rec.commandLine = joinCommandLine(args);
    if (cmd.length >= MAX_CMDLINE_BYTES) {
      rec.argsTruncated = true;
      rec.argsCount = args.length + Math.max(0, countArgsFrom(`${base}/cmdline`, cmd.length, cmd[cmd.length - 1] !== 0));
    }
  }
  const exe = opts.exe !== false ? tryReadlink(`${base}/exe`) : undefined;
  if (exe !== undefined) setExecutable(rec, exe);
  const stdin = fdKindOf(base, 0, comm, ctx);
  if (stdin !== undefined) rec.stdin = stdin;
  // stdout only for the checked programs: a shell writing to a TCP peer while reading a fifo.
  if (ctx.stdinChecked?.(comm) === true) {
    const stdout = fdKindOf(base, 1, comm, ctx);
    if (stdout !== undefined) rec.stdout = stdout;
  }
  const cwd = tryReadlink(`${base}/cwd`);
  if (cwd !== undefined) rec.workingDirectory = cwd;
  const status = opts.status !== false ? tryRead(`${base}/status`, 4096, false) : undefined;
  const uids = status === undefined ? undefined : parseStatusUids(status.toString('latin1'));
  if (uids !== undefined) {
    // /proc/<pid> is owned by root for a process that is not dumpable (a setuid one): status tells.
    rec.uid = uids.effective;
    // The name from the owner of /proc/<pid> (root for that process) must not stay on another uid.
    const name = ctx.users.lookup(uids.effective);
    if (name !== undefined) rec.userName = name;
    else delete rec.userName;
    if (ctx.users.noLogin(uids.effective)) rec.userNoLogin = true;
    else delete rec.userNoLogin;
    rec.realUid = uids.real;
    const realName = ctx.users.lookup(uids.real);
    if (realName !== undefined) rec.realUserName = realName;
  }
}

/** Task counters from <procRoot>/loadavg (see parseTaskCounters); undefined when unreadable. */
export function readTaskCounters(procRoot: string): string | undefined {
  const buf = tryRead(`${procRoot}/loadavg`, 4096, false);
  return buf === undefined ? undefined : parseTaskCounters(buf.toString('latin1'));
}

/**
 * Reads a one-record file of a task (`/proc/<pid>/status`, `stat`), telling "no such task" (ENOENT,
 * ESRCH: it ended, or the pid is free) from a failure that says nothing about the task (EMFILE,
 * EACCES ...), which is undefined.
 */
function readTaskFile(path: string): Buffer | 'gone' | undefined {
  const gone = (err: unknown) => ['ENOENT', 'ESRCH'].includes((err as NodeJS.ErrnoException).code ?? '');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return gone(err) ? 'gone' : undefined;
  }
  try {
    return Buffer.from(scratch.subarray(0, readSync(fd, scratch, 0, 4096, null)));
  } catch (err) {
    return gone(err) ? 'gone' : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The thread group (process) of the task with this pid, from its status: its pid, `gone` when no
 * task has this pid, undefined when that cannot be told.
 */
export function readThreadGroup(pid: number, procRoot: string): number | 'gone' | undefined {
  const buf = readTaskFile(`${procRoot}/${pid}/status`);
  if (buf === 'gone' || buf === undefined) return buf;
  const m = /^Tgid:\s*(\d+)$/m.exec(buf.toString('latin1'));
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The start key of the task with this pid; false when there is none; undefined when unreadable. */
function startKeyOf(pid: number, procRoot: string): string | false | undefined {
  const buf = readTaskFile(`${procRoot}/${pid}/stat`);
  if (buf === undefined) return undefined;
  return buf === 'gone' ? false : parseStat(buf.toString('utf8'))?.startTicks;
}

/**
 * Whether the process known with this start key has ended, its pid free or taken by another task;
 * undefined when that cannot be told.
 */
export function hasEnded(pid: number, startKey: string, procRoot: string): boolean | undefined {
  const key = startKeyOf(pid, procRoot);
  return key === undefined ? undefined : key !== startKey;
}

/** Re-reads only the start key, to tell a reused pid from the same process; undefined when gone or unreadable. */
export function readStartKey(pid: number, procRoot: string): string | undefined {
  return startKeyOf(pid, procRoot) || undefined;
}
