import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Family, Transport } from '../types.js';
import { parseProcNet, parseSsLine } from './proc-parsers.js';
import type { SocketRow } from './proc-parsers.js';
import { loadSockDiag } from './sock-diag.js';
import type { SockDiag } from './sock-diag.js';

export interface NamespaceRows {
  rows: (SocketRow & { zone?: string })[];
  /** Which path produced them. */
  via: 'sock_diag' | 'procfs';
  warnings: string[];
}

const PROC_NET: [string, Transport, Family][] = [
  ['tcp', 'tcp', 'ipv4'], ['tcp6', 'tcp', 'ipv6'], ['udp', 'udp', 'ipv4'], ['udp6', 'udp', 'ipv6'],
];

/** Fallback that always works: parse /proc/<pid>/net/* of a process inside the namespace. */
export function readProcNet(procRoot: string, pid: number | 'self'): NamespaceRows {
  const rows: SocketRow[] = [];
  const warnings: string[] = [];
  for (const [file, transport, family] of PROC_NET) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${pid}/net/${file}`, 'utf8');
    } catch {
      continue; // IPv6 disabled, or the process vanished
    }
    const r = parseProcNet(text, transport, family);
    rows.push(...r.rows);
    if (r.bad > 0) warnings.push(`${r.bad} malformed line(s) in /proc/${pid}/net/${file}`);
  }
  return { rows, via: 'procfs', warnings };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 10_000, encoding: 'utf8' }, (err, stdout) => {
      if (err) reject(new Error(err.message, { cause: err }));
      else resolve(stdout);
    });
  });
}

function parseSsOutput(out: string): NamespaceRows {
  const rows: NamespaceRows['rows'] = [];
  let bad = 0;
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    const row = parseSsLine(line);
    if (row === undefined) bad++;
    else rows.push(row);
  }
  return { rows, via: 'sock_diag', warnings: bad > 0 ? [`${bad} unparsed line(s) from ss`] : [] };
}

const SS_ARGS = ['-ltnuHe'];

type PathKind = 'native' | 'ss' | 'procfs';

/**
 * Reads listening sockets per network namespace through NETLINK_SOCK_DIAG, whose cost grows with
 * listeners only: in process with our native addon (entering other namespaces with setns), else
 * `ss -ltnuHe` (other namespaces through nsenter); falls back to /proc/<pid>/net per namespace
 * when neither works or is permitted there.
 */
export class ListenerReader {
  private ssWorks: boolean | undefined;
  private nsenterWorks: boolean | undefined;
  private nativeWorks: boolean | undefined;
  private nativeNsWorks: boolean | undefined;

  constructor(
    private readonly procRoot: string,
    private readonly ssPath = 'ss',
    private readonly nsenterPath = 'nsenter',
    /** null: no native dump (addon not built, or switched off). */
    private readonly native: SockDiag | null = loadSockDiag() ?? null,
  ) {}

  private ownPath(): PathKind {
    if (this.native !== null && this.nativeWorks !== false) return 'native';
    return this.ssWorks === false ? 'procfs' : 'ss';
  }

  private otherPath(): PathKind {
    if (this.native !== null && this.nativeWorks !== false && this.nativeNsWorks !== false) return 'native';
    return this.ssWorks === false || this.nsenterWorks === false ? 'procfs' : 'ss';
  }

  /** The path this host is on, as the README and `info()` say it. */
  describe(): string {
    const own = this.ownPath();
    const other = this.otherPath();
    const main = own === 'native' ? 'NETLINK_SOCK_DIAG (native)'
      : own === 'ss' ? `NETLINK_SOCK_DIAG via ss -ltnuHe${this.native === null ? ' (native addon not built)' : ' (native dump failed)'}`
        : '/proc/<pid>/net/{tcp,tcp6,udp,udp6} (fallback: ss unavailable)';
    if (other === own) return main;
    const why = own !== 'native' ? 'nsenter not permitted' : other === 'ss' ? 'setns not permitted' : 'setns and nsenter not permitted';
    return other === 'ss'
      ? `${main}; other namespaces via nsenter + ss -ltnuHe (${why})`
      : `${main}; other namespaces via /proc/<pid>/net (${why})`;
  }

  /** The native dump for one namespace, or undefined to take the next path. */
  private readNative(pid: number | 'self', own: boolean, warnings: string[]): NamespaceRows | undefined {
    if (this.native === null || this.nativeWorks === false || (!own && this.nativeNsWorks === false)) return undefined;
    const r = this.native.dump(own ? undefined : `${this.procRoot}/${pid}/ns/net`);
    switch (r.kind) {
      case 'ok':
        if (own) this.nativeWorks = true;
        else this.nativeNsWorks = true;
        return { rows: r.rows, via: 'sock_diag', warnings: [] };
      case 'not-permitted':
        if (!own) this.nativeNsWorks = false;
        return undefined;
      case 'gone':
        return undefined;
      case 'failed': {
        // Never worked: off from now on. Worked before: a passing failure, fall back for this tick.
        const worked = own ? this.nativeWorks === true : this.nativeNsWorks === true;
        if (!worked && own) this.nativeWorks = false;
        if (!worked && !own) this.nativeNsWorks = false;
        if (worked) warnings.push(`NETLINK_SOCK_DIAG dump failed (${r.message}); read another way this tick`);
        return undefined;
      }
    }
  }

  async read(pid: number | 'self', own: boolean): Promise<NamespaceRows> {
    const warnings: string[] = [];
    const native = this.readNative(pid, own, warnings);
    if (native !== undefined) return native;
    const fallback = await this.readFallback(pid, own);
    return warnings.length === 0 ? fallback : { ...fallback, warnings: [...warnings, ...fallback.warnings] };
  }

  private async readFallback(pid: number | 'self', own: boolean): Promise<NamespaceRows> {
    const usable = this.ssWorks !== false && (own || this.nsenterWorks !== false);
    if (usable) {
      try {
        const out = own
          ? await run(this.ssPath, SS_ARGS)
          : await run(this.nsenterPath, [`--net=${this.procRoot}/${pid}/ns/net`, '--', this.ssPath, ...SS_ARGS]);
        if (own) this.ssWorks = true;
        else this.nsenterWorks = true;
        return parseSsOutput(out);
      } catch {
        // Never worked: missing or not permitted, use the fallback from now on. Worked before:
        // the namespace's process just exited; fall back for this tick only.
        if (own && this.ssWorks !== true) this.ssWorks = false;
        if (!own && this.nsenterWorks !== true) this.nsenterWorks = false;
      }
    }
    return readProcNet(this.procRoot, pid);
  }
}
