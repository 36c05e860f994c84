/**
 * Kernel records (records.ts) -> the real-time events the watch applies (sources/types.ts). A
 * process record is made from the kernel's own data (start, parent, comm, uid, filename and argv
 * read at exec) and completed from /proc while the process still lives (executable resolved as the
 * polling path has it, working directory, container); what the shortest processes leave behind is
 * their kernel record alone.
 */
import type { ListenerRecord, ProcessRecord, RealtimeEvent } from '../../types.js';
import { joinCommandLine, parseExeLink, setExecutable } from '../proc-parsers.js';
import { completeProcess, readProcess } from '../process-reader.js';
import type { ProcessReadContext } from '../process-reader.js';
import { RecordFlag } from './records.js';
import type { RawProcess, RawRecord } from './records.js';

/** ns per clock tick (USER_HZ 100): /proc/<pid>/stat field 22 is start_boottime / this. */
const NS_PER_TICK = 10_000_000n;
/** Records made here kept for forks and execs of their children (a chain of short processes). */
const RECENT_AT_MOST = 4096;

export interface ConvertContext {
  ctx: ProcessReadContext;
  /** The polling path's processes (pid -> record), read-only here. */
  polled: ReadonlyMap<number, ProcessRecord>;
}

export function startKeyOf(startNs: bigint): string {
  return String(startNs / NS_PER_TICK);
}

/** Turns kernel records into events; keeps the records it made so children find their parents. */
export class RecordConverter {
  private readonly recent = new Map<string, ProcessRecord>();
  /** The newest record made here per pid: a parent whose start the producer could not read (it exited). */
  private readonly newest = new Map<number, ProcessRecord>();
  /** Epoch ms minus boot ms, the smallest seen: deliveries only ever add latency to it. */
  private offsetMs = Number.POSITIVE_INFINITY;

  constructor(private readonly c: ConvertContext) {}

  convert(raw: readonly RawRecord[], out: RealtimeEvent[]): void {
    const now = Date.now();
    for (const r of raw) {
      const tsMs = Number(r.proc.tsNs / 1_000_000n);
      if (tsMs > 0 && now - tsMs < this.offsetMs) this.offsetMs = now - tsMs;
    }
    for (const r of raw) {
      const at = r.proc.tsNs === 0n || !Number.isFinite(this.offsetMs) ? now : Math.min(now, this.offsetMs + Number(r.proc.tsNs / 1_000_000n));
      this.one(r, at, out);
    }
  }

  private one(r: RawRecord, at: number, out: RealtimeEvent[]): void {
    switch (r.type) {
      case 'fork': {
        const record = this.forked(r.proc);
        if (record !== undefined) out.push({ kind: 'fork', record, at });
        return;
      }
      case 'exec':
        out.push({ kind: 'exec', record: this.execd(r.proc, r.filename, r.args, r.pgid ?? 0, r.sid ?? 0), at });
        return;
      case 'exit': {
        // A process reaped before the producer read its start: the one this pid names here.
        const startKey = r.proc.startNs !== 0n ? startKeyOf(r.proc.startNs) : (this.newest.get(r.proc.tgid) ?? this.c.polled.get(r.proc.tgid))?.startKey ?? '0';
        // Kept in `recent` a while: a child's fork or exec may come in the same delivery, after it.
        out.push({ kind: 'exit', pid: r.proc.tgid, startKey, at });
        return;
      }
      case 'listen':
      case 'bind': {
        const record = this.listener(r.proc, r.socket);
        const owner = this.knownProcess(r.proc.tgid, startKeyOf(r.proc.startNs));
        const ownerRecord = owner === undefined ? this.readAlive(r.proc) : undefined;
        out.push({ kind: 'listen', record, at, ...(ownerRecord === undefined ? {} : { ownerRecord }) });
        return;
      }
      case 'unlisten':
      case 'destroy':
        out.push({ kind: 'unlisten', record: this.listener(r.proc, r.socket), at });
        return;
      case 'connect': {
        if (r.proc.tgid === process.pid) return; // the agent's own (outputs, policy): not a finding, and a loop when shipped
        const c = r.conn;
        const record = { pid: r.proc.tgid, name: r.proc.comm, netns: r.proc.netns ?? 'unknown', ...c, ...(r.proc.euid === undefined ? {} : { uid: r.proc.euid }) };
        const known = this.knownProcess(r.proc.tgid, startKeyOf(r.proc.startNs));
        // The main thread's comm names the image that connects. A known record under another name
        // predates an exec the ring buffer lost (a fork seen as bash whose exec of curl was dropped)
        // or a rename (prctl): /proc says which. A process already gone leaves the kernel's pid and
        // name only (ownerStale), never the image it ran before.
        const stale = known !== undefined && r.proc.tid === r.proc.tgid && known.name !== r.proc.comm;
        const ownerRecord = known === undefined || stale ? this.readAlive(r.proc) : undefined;
        out.push({
          kind: 'connect', record, at, ...(ownerRecord === undefined ? {} : { ownerRecord }), ...(stale && ownerRecord === undefined ? { ownerStale: true as const } : {}),
        });
        return;
      }
      case 'lost':
        out.push({ kind: 'lost', count: r.count, at, producer: 'kernel' });
        return;
    }
  }

  private listener(p: RawProcess, s: Extract<RawRecord, { socket: unknown }>['socket']): ListenerRecord {
    const rec: ListenerRecord = {
      netns: p.netns ?? 'unknown', transport: s.transport, family: s.family, address: s.address, port: s.port, inode: s.inode,
      owners: p.tgid > 0 ? [p.tgid] : [],
    };
    if (p.uid !== undefined) {
      rec.uid = p.uid;
      const name = this.c.ctx.users.lookup(p.uid);
      if (name !== undefined) rec.userName = name;
    }
    return rec;
  }

  private knownProcess(pid: number, startKey: string): ProcessRecord | undefined {
    const rec = this.recent.get(`${pid}:${startKey}`);
    if (rec !== undefined) return rec;
    const polled = this.c.polled.get(pid);
    return polled?.startKey === startKey ? polled : undefined;
  }

  private remember(rec: ProcessRecord): void {
    const key = `${rec.pid}:${rec.startKey}`;
    this.recent.delete(key);
    this.recent.set(key, rec);
    this.newest.set(rec.pid, rec);
    if (this.recent.size > RECENT_AT_MOST) {
      const oldest = this.recent.keys().next().value ?? '';
      const old = this.recent.get(oldest);
      this.recent.delete(oldest);
      if (old !== undefined && this.newest.get(old.pid) === old) this.newest.delete(old.pid);
    }
  }

  /** The parent a fork names: by pid and start, or by pid alone when its start is unknown (0). */
  private parentOf(p: RawProcess): ProcessRecord | undefined {
    if (p.parentStartNs !== 0n) return this.knownProcess(p.ppid, startKeyOf(p.parentStartNs));
    return this.newest.get(p.ppid) ?? this.c.polled.get(p.ppid);
  }

  /** The fields every kernel record gives. */
  private base(p: RawProcess): ProcessRecord {
    // A producer that read /proc too late (the proc connector, a process already gone) knows no
    // start: the process this pid names here (its fork) is the one.
    const known = p.startNs === 0n ? this.newest.get(p.tgid) ?? this.c.polled.get(p.tgid) : undefined;
    const startKey = known?.startKey ?? startKeyOf(p.startNs);
    const { bootTimeMs, clockTicks } = this.c.ctx;
    const rec: ProcessRecord = {
      pid: p.tgid, ppid: p.ppid === 0 ? known?.ppid ?? 0 : p.ppid, startKey,
      // The same arithmetic as the polling path, so both name one process with one start.
      start: new Date(Math.round(bootTimeMs + (Number(startKey) * 1000) / clockTicks)).toISOString(),
      name: p.comm, realtime: true,
    };
    // user.id is the effective uid, as the polling path reads it; the real one goes beside it.
    const effective = p.euid ?? p.uid;
    if (effective !== undefined) {
      rec.uid = effective;
      const name = this.c.ctx.users.lookup(effective);
      if (name !== undefined) rec.userName = name;
      if (this.c.ctx.users.noLogin(effective)) rec.userNoLogin = true;
    }
    if (p.uid !== undefined) {
      rec.realUid = p.uid;
      const name = this.c.ctx.users.lookup(p.uid);
      if (name !== undefined) rec.realUserName = name;
    }
    if (p.netns !== undefined) rec.netns = p.netns;
    return rec;
  }

  /** A fork: the child runs its parent's image until it execs. */
  private forked(p: RawProcess): ProcessRecord | undefined {
    const rec = this.base(p);
    const parent = this.parentOf(p);
    if (parent !== undefined) {
      for (const k of ['executable', 'executableDeleted', 'args', 'argsTruncated', 'commandLine', 'workingDirectory', 'containerId'] as const) {
        if (parent[k] !== undefined) (rec as unknown as Record<string, unknown>)[k] = parent[k];
      }
      if (parent.pgid !== undefined) rec.pgid = parent.pgid;
      if (parent.sid !== undefined) rec.sid = parent.sid;
    } else {
      const read = this.readAlive(p);
      if (read !== undefined) {
        // The parent at fork, as the kernel said: /proc names the reaper once the parent is gone.
        if (p.ppid > 0) read.ppid = p.ppid;
        return read;
      }
    }
    this.remember(rec);
    return rec;
  }

  /** An exec: the kernel's filename and argv, completed from /proc while the process lives. */
  private execd(p: RawProcess, filename: string, args: string[], pgid: number, sid: number): ProcessRecord {
    const rec = this.base(p);
    const kernelArgs = args.length > 0 && (p.flags & RecordFlag.argsMissing) === 0;
    const cut = (p.flags & RecordFlag.argsTruncated) !== 0;
    // The proc connector read stat, status, ns/net, exe and cmdline at receipt (a start says the
    // process was there): only what it does not read is read here, the rest is not read twice.
    if ((p.flags & RecordFlag.fromProc) !== 0 && p.startNs !== 0n) return this.execdFromProc(rec, p, filename, args, kernelArgs, cut, pgid, sid);
    // The credentials at exec are the kernel's (both producers give both uids or neither): a shell
    // that drops setuid privileges as it starts (dash, bash without -p) has done so by the time
    // /proc is read, so its status is not read then.
    const kernelCreds = p.uid !== undefined && p.euid !== undefined;
    // The kernel's argv is the one of this exec: /proc's is read only when the event has none, or
    // a cut one (the kernel keeps 4 KiB, /proc up to 256 KiB).
    const live = readProcess(p.tgid, this.c.ctx, 'full', { cmdline: !kernelArgs || cut, status: !kernelCreds });
    // Only the same process, still running the image this event names (not a later exec).
    if (live !== undefined && live.startKey === rec.startKey && live.name === rec.name) {
      if (kernelCreds) {
        // What /proc gave without status is the owner of /proc/<pid>, not the process's uids.
        const { uid: _u, userName: _n, userNoLogin: _l, realUid: _r, realUserName: _rn, ...rest } = live;
        Object.assign(rec, rest, { realtime: true as const });
      } else {
        Object.assign(rec, live, { realtime: true as const });
      }
    }
    // A process already exiting when /proc is read (a zombie) has its stat but no exe link: the kernel's filename stands.
    if (rec.executable === undefined && filename !== '') rec.executable = parseExeLink(filename).path;
    return this.finishExec(rec, args, kernelArgs, cut);
  }

  /** execd for a record the producer filled from /proc: completed with the details it does not read. */
  private execdFromProc(rec: ProcessRecord, p: RawProcess, filename: string, args: string[], kernelArgs: boolean, cut: boolean, pgid: number, sid: number): ProcessRecord {
    if (pgid > 0) rec.pgid = pgid;
    if (sid > 0) rec.sid = sid;
    if (filename !== '' && (p.flags & RecordFlag.filenameTruncated) === 0) setExecutable(rec, filename);
    // A command line the producer cut (4 KiB) is read whole; cwd, stdin and the container are new.
    completeProcess(rec, this.c.ctx, { cmdline: !kernelArgs || cut, status: p.uid === undefined || p.euid === undefined, exe: rec.executable === undefined });
    return this.finishExec(rec, args, kernelArgs, cut);
  }

  /** The kernel's argv stands unless it was cut and /proc gave a longer one; then the record is remembered. */
  private finishExec(rec: ProcessRecord, args: string[], kernelArgs: boolean, cut: boolean): ProcessRecord {
    const longer = cut && rec.args !== undefined && rec.args.join('\0').length > args.join('\0').length;
    if (kernelArgs && !longer) {
      rec.args = args;
      rec.commandLine = joinCommandLine(args);
      if (cut) rec.argsTruncated = true;
    }
    this.remember(rec);
    return rec;
  }

  /** The process as /proc has it now, when it is still the one the record names. */
  private readAlive(p: RawProcess): ProcessRecord | undefined {
    const live = readProcess(p.tgid, this.c.ctx, 'full');
    if (live === undefined || live.startKey !== startKeyOf(p.startNs)) return undefined;
    live.realtime = true;
    this.remember(live);
    return live;
  }
}
