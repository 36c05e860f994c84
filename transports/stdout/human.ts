import type { EcsDocument } from '../../agent/ecs/document.js';
import { getField } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';
import { visible } from '../../agent/util/terminal-text.js';

interface LineageEntry { pid?: number; name?: string }

function str(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** `addr:port`, with brackets for IPv6. */
export function hostPortText(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The process and its ancestors as `name[pid] <- parent[pid] <- ...`. */
export function chainText(doc: EcsDocument): string {
  const self = `${str(getField(doc, F.processName)) || '?'}[${str(getField(doc, F.processPid)) || '?'}]`;
  const lineage = getField(doc, F.lineage);
  const parents = Array.isArray(lineage)
    ? (lineage as LineageEntry[]).map((a) => `${a.name ?? '?'}[${a.pid ?? '?'}]`)
    : [];
  return [self, ...parents].join(' <- ');
}

/** One readable line per event, for a person watching a terminal; host strings shown escaped. */
export function formatHuman(doc: EcsDocument): string {
  return visible(humanLine(doc));
}

function humanLine(doc: EcsDocument): string {
  const time = doc['@timestamp'].slice(11, 23);
  const action = doc.event.action;
  if (doc.event.dataset === 'portwarden.network') {
    const proto = str(getField(doc, F.networkTransport));
    const addr = hostPortText(str(getField(doc, F.destinationIp)), str(getField(doc, F.destinationPort)));
    const scope = str(getField(doc, F.listenerScope));
    return `${time} ${action.padEnd(18)} ${proto.padEnd(3)} ${addr.padEnd(28)} ${scope.padEnd(9)} ${chainText(doc)}`;
  }
  if (doc.event.kind === 'alert') {
    return `${time} ALERT sev=${str(doc.event.severity)} ${str(doc.message)} :: ${chainText(doc)}`;
  }
  if (doc.event.dataset === 'portwarden.process') {
    return `${time} ${action.padEnd(18)} ${chainText(doc)} ${str(getField(doc, F.processCommandLine)).slice(0, 200)}`;
  }
  return `${time} ${action.padEnd(18)} ${doc.message ?? ''}`;
}
