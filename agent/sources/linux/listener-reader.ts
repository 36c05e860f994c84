import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Family, Transport } from '../types.js';
import { parseProcNet, parseSsLine } from './proc-parsers.js';
import type { SocketRow } from './proc-parsers.js';

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
      if (err) reject(err);
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

/**
 * Reads listening sockets per network namespace through NETLINK_SOCK_DIAG (`ss -ltnuHe`, whose cost
 * grows with listeners only), entering other namespaces with nsenter; falls back to /proc/<pid>/net
 * per namespace when ss or nsenter is missing or not permitted.
 */
export class ListenerReader {
  private ssWorks: boolean | undefined;
  private nsenterWorks: boolean | undefined;

  constructor(private readonly procRoot: string, private readonly ssPath = 'ss', private readonly nsenterPath = 'nsenter') {}

  /** `sock_diag via ss -ltnuHe`, or the fallback, as the README and `info()` say it. */
  describe(): string {
    if (this.ssWorks === false) return '/proc/<pid>/net/{tcp,tcp6,udp,udp6} (fallback: ss unavailable)';
    const other = this.nsenterWorks === false ? '; other namespaces via /proc/<pid>/net (nsenter not permitted)' : '';
    return `NETLINK_SOCK_DIAG via ss -ltnuHe${other}`;
  }

  async read(pid: number | 'self', own: boolean): Promise<NamespaceRows> {
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
