import { unixMsToFiletime } from './iphlp-decode.js';
import { isRecord, num, parsePsDate, parsePsJson, splitUser, str } from './powershell-json.js';

/**
 * Win32_Process rows as the persistent PowerShell returns them. `Created` is the creation
 * FILETIME (WMI keeps microseconds, so it matches the native FILETIME to within 10 ticks).
 */
export interface Win32ProcessRow {
  pid: number;
  ppid?: number;
  name?: string;
  executable?: string;
  /** Undefined when Windows would not tell (another user's process without elevation). */
  commandLine?: string;
  created?: bigint;
  user?: string;
  domain?: string;
}

const PROJECTION = [
  'ProcessId', 'ParentProcessId', 'Name', 'ExecutablePath', 'CommandLine',
  "@{n='Created';e={ if ($_.CreationDate) { $_.CreationDate.ToFileTimeUtc().ToString() } else { $null } }}",
].join(',');

/** Every process without owners (the fallback process table when the FFI is unavailable). */
export const PROCESS_LIST_SCRIPT =
  `ConvertTo-Json -Compress -InputObject @(Get-CimInstance Win32_Process | Select-Object ${PROJECTION})`;

/**
 * Details (command line, owner) for the given pids only. Pids are numbers we produced, so the
 * WQL filter cannot carry foreign text; past 200 pids one unfiltered query is cheaper.
 */
export function processDetailsScript(pids: readonly number[]): string {
  const safe = pids.filter((p) => Number.isSafeInteger(p) && p >= 0);
  const filter = safe.length > 0 && safe.length <= 200 ? ` -Filter '${safe.map((p) => `ProcessId=${p}`).join(' OR ')}'` : '';
  return [
    `$rows = foreach ($p in @(Get-CimInstance Win32_Process${filter})) {`,
    "  $o = Invoke-CimMethod -InputObject $p -MethodName GetOwner -ErrorAction SilentlyContinue",
    "  [pscustomobject]@{ ProcessId=$p.ProcessId; ParentProcessId=$p.ParentProcessId; Name=$p.Name; ExecutablePath=$p.ExecutablePath; CommandLine=$p.CommandLine;",
    "    Created=$(if ($p.CreationDate) { $p.CreationDate.ToFileTimeUtc().ToString() } else { $null }); User=$o.User; Domain=$o.Domain } }",
    'ConvertTo-Json -Compress -InputObject @($rows)',
  ].join('\n');
}

function createdOf(o: Record<string, unknown>): bigint | undefined {
  const c = o.Created;
  if (typeof c === 'string' && /^\d+$/.test(c)) return BigInt(c);
  const d = parsePsDate(o.CreationDate ?? c);
  return d === undefined ? undefined : unixMsToFiletime(d.getTime());
}

function fromRecord(o: Record<string, unknown>): Win32ProcessRow | undefined {
  const pid = num(o, 'ProcessId');
  if (pid === undefined) return undefined;
  const row: Win32ProcessRow = { pid };
  const ppid = num(o, 'ParentProcessId');
  if (ppid !== undefined) row.ppid = ppid;
  const name = str(o, 'Name');
  if (name !== undefined) row.name = name;
  const exe = str(o, 'ExecutablePath');
  if (exe !== undefined) row.executable = exe;
  // An empty CommandLine means "not readable", not "no arguments": leave it out.
  const cmd = str(o, 'CommandLine');
  if (cmd !== undefined) row.commandLine = cmd;
  const created = createdOf(o);
  if (created !== undefined) row.created = created;
  const user = str(o, 'User');
  if (user !== undefined) {
    const parts = user.includes('\\') ? splitUser(user) : { name: user };
    row.user = parts.name;
    const domain = str(o, 'Domain') ?? parts.domain;
    if (domain !== undefined) row.domain = domain;
  }
  return row;
}

/** Parses the scripts' JSON (or any Win32_Process JSON: CreationDate as DMTF or `\/Date()\/`). */
export function parseWin32ProcessJson(text: string): { rows: Win32ProcessRow[]; warnings: string[] } {
  const rows: Win32ProcessRow[] = [];
  const warnings: string[] = [];
  for (const o of parsePsJson(text)) {
    const row = isRecord(o) ? fromRecord(o) : undefined;
    if (row === undefined) warnings.push('Win32_Process: row without ProcessId');
    else rows.push(row);
  }
  return { rows, warnings };
}

/** Same mapping over `Format-List` records (recorded `Get-WmiObject Win32_Process` listings). */
export function win32RowsFromRecords(records: Record<string, string>[]): Win32ProcessRow[] {
  return records.filter((r) => r.ProcessId !== undefined)
    .map((r) => fromRecord(r))
    .filter((r): r is Win32ProcessRow => r !== undefined);
}

/** True when a detail row describes the same process instance (same pid, creation within 1 ms). */
export function sameInstance(row: Win32ProcessRow, pid: number, createTime: bigint): boolean {
  if (row.pid !== pid) return false;
  if (row.created === undefined || createTime === 0n) return true;
  const d = row.created - createTime;
  return (d < 0n ? -d : d) < 10000n;
}
