import { isRecord, num, parsePsDate, parsePsJson, str } from './powershell-json.js';
import type { Transport } from '../types.js';

/**
 * `Get-NetTCPConnection` / `Get-NetUDPEndpoint` JSON (raw PS 5.1 CIM envelope or a projection).
 * State is a number in 5.1 (2 = Listen) and may be the enum name elsewhere.
 */
export interface CimListenerRow {
  transport: Transport;
  address: string;
  port: number;
  pid: number | undefined;
  /** Bind time, ISO, when the OS recorded it. */
  boundAt?: string;
}

export const CIM_TCP_LISTEN = 2;

function isListen(state: unknown): boolean {
  if (state === undefined || state === null) return true;
  if (typeof state === 'number') return state === CIM_TCP_LISTEN;
  return typeof state === 'string' && (state.toLowerCase() === 'listen' || state === String(CIM_TCP_LISTEN));
}

export function parseCimListenersJson(text: string, transport: Transport): { rows: CimListenerRow[]; warnings: string[] } {
  const rows: CimListenerRow[] = [];
  const warnings: string[] = [];
  for (const o of parsePsJson(text)) {
    if (!isRecord(o)) continue;
    const address = str(o, 'LocalAddress');
    const port = num(o, 'LocalPort');
    if (address === undefined || port === undefined) {
      warnings.push(`${transport} endpoint without LocalAddress/LocalPort`);
      continue;
    }
    if (transport === 'tcp' && !isListen(o.State)) continue;
    const row: CimListenerRow = { transport, address, port, pid: num(o, 'OwningProcess') };
    const created = parsePsDate(o.CreationTime ?? o.Created);
    if (created !== undefined && created.getTime() > 0) row.boundAt = created.toISOString();
    rows.push(row);
  }
  return { rows, warnings };
}

/** The PowerShell listener tier (after IP Helper and netstat): NetTCPIP cmdlets, compact projections. */
export const CIM_TCP_SCRIPT =
  'Get-NetTCPConnection -State Listen | Select-Object LocalAddress,LocalPort,OwningProcess,State,CreationTime | ConvertTo-Json -Compress';
export const CIM_UDP_SCRIPT =
  'Get-NetUDPEndpoint | Select-Object LocalAddress,LocalPort,OwningProcess,CreationTime | ConvertTo-Json -Compress';
