import { familyOf } from './address.js';
import { parseCimListenersJson } from './cim-listeners.js';
import { decodeTable, filetimeToIso, MIB_TCP_STATE_LISTEN, type IpHelperRow, type TableKind } from './iphlp-decode.js';
import { decodeNetstatOutput, parseNetstat, type NetstatParse } from './netstat-parse.js';
import { serviceNameFromModule } from './ntdll-decode.js';
import type { WindowsNative } from './native.js';
import type { ListenerRecord, Transport } from '../types.js';

export const TABLE_KINDS: readonly TableKind[] = ['tcp4', 'tcp6', 'udp4', 'udp6'];

/** A listener; like the Linux collector, an IPv6 zone (`%12`) moves out of the address into `zone`. */
export type WindowsListener = ListenerRecord & { zone?: string };

function base(transport: 'tcp' | 'udp', text: string, port: number, pid: number | undefined): WindowsListener {
  const pct = text.indexOf('%');
  const address = pct < 0 ? text : text.slice(0, pct);
  const rec: WindowsListener = {
    netns: 'host',
    transport,
    family: familyOf(address),
    address,
    port,
    inode: 0,
    owners: pid !== undefined && pid > 0 ? [pid] : [],
  };
  if (pct >= 0) rec.zone = text.slice(pct + 1);
  return rec;
}

/**
 * Listeners from the IP Helper OWNER_MODULE tables. Service names come from
 * GetOwnerModuleFrom*Entry, asked once per (row, bind time) and remembered in `serviceCache`
 * (entries not seen this poll are forgotten).
 */
export function listenersFromNative(
  native: WindowsNative,
  imageNameOf: (pid: number) => string | undefined,
  serviceCache: Map<string, string | null>,
  warnings: string[],
): WindowsListener[] {
  const out: WindowsListener[] = [];
  const seen = new Set<string>();
  for (const kind of TABLE_KINDS) {
    const decoded = decodeTable(kind, native.table(kind));
    warnings.push(...decoded.warnings);
    for (const row of decoded.rows) {
      if (kind.startsWith('tcp') && row.state !== MIB_TCP_STATE_LISTEN) continue;
      const rec = base(kind.startsWith('tcp') ? 'tcp' : 'udp', row.address, row.port, row.pid);
      const bound = filetimeToIso(row.createTimestamp);
      if (bound !== undefined) rec.boundAt = bound;
      const key = cacheKey(row);
      seen.add(key);
      let svc = serviceCache.get(key);
      if (svc === undefined && row.pid > 4) {
        const module = native.ownerModule(kind, row.row);
        svc = (module === undefined ? undefined : serviceNameFromModule(module, imageNameOf(row.pid))) ?? null;
        serviceCache.set(key, svc);
      }
      if (typeof svc === 'string') rec.serviceName = svc;
      out.push(rec);
    }
  }
  for (const k of serviceCache.keys()) if (!seen.has(k)) serviceCache.delete(k);
  return out;
}

function cacheKey(row: IpHelperRow): string {
  return `${row.kind}|${row.address}|${row.port}|${row.pid}|${row.createTimestamp}`;
}

/** Listeners from `netstat -ano` bytes (or their parse): TCP rows whose foreign port is 0 and all UDP rows. */
export function listenersFromNetstat(input: Buffer | NetstatParse, warnings: string[]): WindowsListener[] {
  const parsed = Buffer.isBuffer(input) ? parseNetstat(decodeNetstatOutput(input)) : input;
  warnings.push(...parsed.warnings);
  const out: WindowsListener[] = [];
  const seen = new Set<string>();
  for (const row of parsed.rows) {
    if (!row.listener) continue;
    const key = `${row.transport}|${row.address}|${row.port}|${row.pid ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const rec = base(row.transport, row.address, row.port, row.pid);
    if (row.serviceName !== undefined) rec.serviceName = row.serviceName;
    out.push(rec);
  }
  return out;
}

/** Listeners from Get-NetTCPConnection / Get-NetUDPEndpoint JSON (the last tier). */
export function listenersFromCim(text: string, transport: Transport, warnings: string[]): WindowsListener[] {
  const parsed = parseCimListenersJson(text, transport);
  warnings.push(...parsed.warnings);
  return parsed.rows.map((row) => {
    const rec = base(row.transport, row.address, row.port, row.pid);
    if (row.boundAt !== undefined) rec.boundAt = row.boundAt;
    return rec;
  });
}
