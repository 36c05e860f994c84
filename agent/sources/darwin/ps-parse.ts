/**
 * `LC_ALL=C ps -axww -o pid=,ppid=,uid=,user=,lstart=,args=` rows. `lstart` is five tokens
 * (`Mon Jul  6 09:05:01 2020`, day space-padded) in local time with 1 s resolution; `args` is
 * last because it contains spaces. `ps -axww -o pid=,comm=` gives the executable path.
 */
export interface PsRow {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  /** Start, Unix seconds (the exact start key macOS gives). */
  startSeconds: number;
  /** The argument vector joined with spaces, exactly as ps prints it. */
  args: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const ROW = /^\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(\S+)\s+[A-Z][a-z]{2}\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})(?:\s+(.*))?$/;

/** Local wall-clock parts to Unix milliseconds; ps prints the host's local time. */
export type LocalTime = (y: number, month0: number, d: number, h: number, mi: number, s: number) => number;
export const hostLocalTime: LocalTime = (y, mo, d, h, mi, s) => new Date(y, mo, d, h, mi, s).getTime();

export function parsePsLstart(text: string, toMs: LocalTime = hostLocalTime): { rows: PsRow[]; warnings: string[] } {
  const rows: PsRow[] = [];
  const warnings: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim().length === 0) continue;
    const m = ROW.exec(line);
    const month = m === null ? -1 : MONTHS.indexOf(m[5] ?? '');
    if (m === null || month < 0) {
      warnings.push(`ps: unparsable row "${line.slice(0, 120)}"`);
      continue;
    }
    const ms = toMs(Number(m[10]), month, Number(m[6]), Number(m[7]), Number(m[8]), Number(m[9]));
    rows.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      uid: Number(m[3]),
      user: m[4] ?? '',
      startSeconds: Math.floor(ms / 1000),
      args: (m[11] ?? '').replace(/\s+$/, ''),
    });
  }
  return { rows, warnings };
}

/** `ps -o pid=,comm=`: pid to executable path (comm may contain spaces, so it is last). */
export function parsePsComm(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const comm = m[2].trim();
    if (comm.length > 0) out.set(Number(m[1]), comm);
  }
  return out;
}
