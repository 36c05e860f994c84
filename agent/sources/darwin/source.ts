import { basename } from 'node:path';
import type { Logger } from '../../log/logger.js';
import type { ListenerRecord, ProcessRecord, Snapshot, Source, SourceInfo } from '../types.js';
import { createExecRunner, type CommandRunner } from './command-runner.js';
import { lsofEndpoint, parseLsofFields } from './lsof-parse.js';
import { hostLocalTime, parsePsComm, parsePsLstart, type LocalTime } from './ps-parse.js';
import { PortwardenError } from '../../util/errors.js';

export interface DarwinSourceOptions {
  logger: Logger;
  runner?: CommandRunner;
  /** Whether the agent runs as root (default: getuid() === 0). */
  root?: boolean;
  /** How ps's local lstart maps to Unix time (default: this host's time zone). */
  localTime?: LocalTime;
  now?: () => Date;
}

export const LSOF_TCP_ARGS = ['-nP', '-w', '-iTCP', '-sTCP:LISTEN', '-FpcRuLfdtPnT'] as const;
export const LSOF_UDP_ARGS = ['-nP', '-w', '-iUDP', '-FpcRuLfdtPn'] as const;
export const PS_ARGS = ['-axww', '-o', 'pid=,ppid=,uid=,user=,lstart=,args='] as const;
export const PS_COMM_ARGS = ['-axww', '-o', 'pid=,comm='] as const;
const C_LOCALE = { LC_ALL: 'C' };

const NOT_ROOT = 'not running as root: lsof shows only this user\'s own sockets, so listeners of other users\' ' +
  'processes (root daemons, other accounts) are missing entirely, not just unattributed';

/** macOS collector: `lsof -F` for TCP listeners and bound UDP sockets, `ps` for the process table. */
export function createDarwinSource(opts: DarwinSourceOptions): Source {
  const runner = opts.runner ?? createExecRunner();
  const log = opts.logger.child({ source: 'darwin' });
  const root = opts.root ?? process.getuid?.() === 0;
  const toMs = opts.localTime ?? hostLocalTime;
  const now = opts.now ?? (() => new Date());
  let records = new Map<number, ProcessRecord>();
  let started = false;
  let closed = false;

  async function readProcesses(warnings: string[]): Promise<Map<number, ProcessRecord>> {
    const [ps, comm] = await Promise.all([tool('ps', PS_ARGS), tool('ps', PS_COMM_ARGS)]);
    if (ps.code !== 0) throw new PortwardenError('COMMAND_FAILED', `ps exited ${ps.code}: ${ps.stderr.trim()}`);
    const parsed = parsePsLstart(ps.stdout, toMs);
    warnings.push(...parsed.warnings);
    const exes = parsePsComm(comm.stdout);
    const next = new Map<number, ProcessRecord>();
    for (const r of parsed.rows) {
      const startKey = String(r.startSeconds);
      const old = records.get(r.pid);
      if (old?.startKey === startKey) { next.set(r.pid, old); continue; }
      const exe = exes.get(r.pid);
      const rec: ProcessRecord = {
        pid: r.pid, ppid: r.ppid, startKey, start: new Date(r.startSeconds * 1000).toISOString(),
        name: exe !== undefined ? basename(exe) : basename(r.args.split(' ')[0] ?? '') || `pid ${r.pid}`,
        uid: r.uid, userName: r.user, netns: 'host',
      };
      if (exe?.startsWith('/') === true) rec.executable = exe;
      if (r.args.length > 0) rec.commandLine = r.args;
      next.set(r.pid, rec);
    }
    records = next;
    return next;
  }

  /** A missing tool makes the collector blind: say which one and where macOS keeps it. */
  async function tool(file: 'lsof' | 'ps', args: readonly string[]) {
    try {
      return await runner.run(file, args, { env: C_LOCALE });
    } catch (err) {
      const where = file === 'lsof' ? '/usr/sbin/lsof' : '/bin/ps';
      throw new PortwardenError(err instanceof PortwardenError ? err.code : 'COMMAND_FAILED', `${(err as Error).message}: macOS ships it as ${where}; check the agent's PATH (the launchd plist sets one)`, { cause: err });
    }
  }

  async function lsof(args: readonly string[], warnings: string[]) {
    const res = await tool('lsof', args);
    // Exit 1 with no output means "nothing matched".
    if (res.code !== 0 && res.stdout.trim().length > 0) warnings.push(`lsof exited ${res.code}: ${res.stderr.trim().slice(0, 200)}`);
    else if (res.code !== 0 && res.code !== 1) throw new PortwardenError('COMMAND_FAILED', `lsof exited ${res.code}: ${res.stderr.trim()}`);
    const parsed = parseLsofFields(res.stdout);
    warnings.push(...parsed.warnings);
    return parsed.sockets;
  }

  function listenersFrom(sockets: ReturnType<typeof parseLsofFields>['sockets'], procs: Map<number, ProcessRecord>): ListenerRecord[] {
    const byKey = new Map<string, ListenerRecord & { zone?: string }>();
    for (const s of sockets) {
      const ep = lsofEndpoint(s);
      if (ep === undefined) continue;
      // One socket shared by forked processes has one kernel address (`d`): one listener, many owners.
      const key = `${ep.transport}|${ep.address}|${ep.zone ?? ''}|${ep.port}|${s.device ?? `pid${s.pid}`}`;
      let l = byKey.get(key);
      if (l === undefined) {
        l = { netns: 'host', transport: ep.transport, family: ep.family, address: ep.address, port: ep.port, inode: 0, owners: [] };
        if (ep.zone !== undefined) l.zone = ep.zone;
        if (s.uid !== undefined) l.uid = s.uid;
        byKey.set(key, l);
      }
      if (!l.owners.includes(s.pid)) l.owners.push(s.pid);
    }
    const startOf = (pid: number) => Number(procs.get(pid)?.startKey ?? Number.MAX_SAFE_INTEGER);
    for (const l of byKey.values()) l.owners.sort((a, b) => startOf(a) - startOf(b) || a - b);
    return [...byKey.values()];
  }

  return {
    start() {
      if (!started) {
        started = true;
        if (!root) log.warn(NOT_ROOT);
      }
      return Promise.resolve();
    },
    info(): SourceInfo {
      return {
        platform: 'darwin',
        listenerPath: 'lsof -nP -iTCP -sTCP:LISTEN -F / lsof -nP -iUDP -F',
        processPath: 'ps -axww -o pid,ppid,uid,user,lstart,args (+ comm for executables)',
        privileged: root,
        limitations: root ? [] : [NOT_ROOT],
      };
    },
    async poll(): Promise<Snapshot> {
      if (closed) throw new PortwardenError('SOURCE_STOPPED', 'darwin source is shut down');
      const warnings: string[] = [];
      const [procs, tcp, udp] = await Promise.all([readProcesses(warnings), lsof(LSOF_TCP_ARGS, warnings), lsof(LSOF_UDP_ARGS, warnings)]);
      return { takenAt: now(), listeners: listenersFrom([...tcp, ...udp], procs), processes: new Map(procs), warnings };
    },
    flush: () => Promise.resolve(),
    shutdown() { closed = true; return Promise.resolve(); },
  };
}
