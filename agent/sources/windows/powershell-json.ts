/**
 * Pure helpers for Windows PowerShell output: `ConvertTo-Json` (5.1 and 7), CIM dates, DMTF
 * dates, `DOMAIN\user`, and Windows command-line splitting.
 */

/** Parses ConvertTo-Json output: a leading BOM is dropped, empty output is [], one object becomes [object]. */
export function parsePsJson(text: string): unknown[] {
  const t = text.replace(/^\uFEFF/, '').trim();
  if (t.length === 0) return [];
  const v: unknown = JSON.parse(t);
  if (Array.isArray(v)) return v as unknown[];
  return v === null ? [] : [v];
}

/** Dates as PowerShell serialises them: `\/Date(ms)\/` (5.1; JSON.parse leaves `/Date(ms)/`), ISO strings (7). */
export function parsePsDate(v: unknown): Date | undefined {
  if (typeof v === 'number') return new Date(v);
  if (typeof v !== 'string' || v.length === 0) return undefined;
  const ms = /^\\?\/Date\((-?\d+)(?:[+-]\d{4})?\)\\?\/$/.exec(v);
  if (ms?.[1] !== undefined) return new Date(Number(ms[1]));
  if (/^\d{14}\.\d{6}[+-]\d{3}$/.test(v)) return parseDmtf(v);
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** DMTF `yyyymmddHHMMSS.ffffff±MMM`: local time with its UTC offset in minutes (`-420` = UTC-7). */
export function parseDmtf(v: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$/.exec(v.trim());
  if (m === null) return undefined;
  const n = m.slice(1, 8).map(Number) as [number, number, number, number, number, number, number];
  const offset = Number(m[9]) * (m[8] === '-' ? -1 : 1);
  const utc = Date.UTC(n[0], n[1] - 1, n[2], n[3], n[4], n[5], Math.floor(n[6] / 1000)) - offset * 60_000;
  return new Date(utc);
}

/** `DOMAIN\user` (or `user@domain`) into its parts; a bare name has no domain. */
export function splitUser(v: string): { name: string; domain?: string } {
  const i = v.indexOf('\\');
  if (i > 0) return { domain: v.slice(0, i), name: v.slice(i + 1) };
  const at = v.lastIndexOf('@');
  if (at > 0) return { name: v.slice(0, at), domain: v.slice(at + 1) };
  return { name: v };
}

/**
 * Splits a command line the way CommandLineToArgvW does: whitespace separates, quotes group,
 * 2n backslashes before a quote give n backslashes and a toggle, 2n+1 give n and a literal quote.
 * The first argument (the program) only honours quotes.
 */
export function splitCommandLine(cmd: string): string[] {
  const args: string[] = [];
  let i = 0;
  const n = cmd.length;
  while (i < n && /\s/.test(cmd[i] ?? '')) i++;
  if (i >= n) return args;
  let first = '';
  if (cmd[i] === '"') {
    const end = cmd.indexOf('"', i + 1);
    first = cmd.slice(i + 1, end < 0 ? n : end);
    i = end < 0 ? n : end + 1;
  } else {
    while (i < n && !/\s/.test(cmd[i] ?? '')) first += cmd[i++] ?? '';
  }
  args.push(first);
  for (;;) {
    while (i < n && /\s/.test(cmd[i] ?? '')) i++;
    if (i >= n) break;
    let cur = '';
    let quoted = false;
    while (i < n && (quoted || !/\s/.test(cmd[i] ?? ''))) {
      let slashes = 0;
      while (cmd[i] === '\\') { slashes++; i++; }
      if (cmd[i] === '"') {
        cur += '\\'.repeat(Math.floor(slashes / 2));
        if (slashes % 2 === 1) { cur += '"'; i++; continue; }
        if (quoted && cmd[i + 1] === '"') { cur += '"'; i += 2; continue; }
        quoted = !quoted;
        i++;
        continue;
      }
      cur += '\\'.repeat(slashes);
      if (i < n && (quoted || !/\s/.test(cmd[i] ?? ''))) cur += cmd[i++] ?? '';
    }
    args.push(cur);
  }
  return args;
}

export function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function num(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `Format-List` text (`Key : value` blocks separated by blank lines, continuation lines indented)
 * into records. Used on recorded `Get-WmiObject Win32_Process` listings.
 */
export function parseFormatList(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let cur: Record<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.replace(/\r+$/, '');
    if (line.trim().length === 0) { cur = undefined; lastKey = undefined; continue; }
    const m = /^(\S[^:]*?)\s*:(?: (.*))?$/.exec(line);
    if (m?.[1] !== undefined && !line.startsWith(' ')) {
      cur ??= {};
      if (Object.keys(cur).length === 0) out.push(cur);
      lastKey = m[1];
      cur[lastKey] = (m[2] ?? '').trim();
    } else if (cur !== undefined && lastKey !== undefined) {
      cur[lastKey] = `${cur[lastKey] ?? ''}${line.trim()}`;
    }
  }
  return out;
}
