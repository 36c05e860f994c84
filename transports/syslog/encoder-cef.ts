import { isIPv4 } from 'node:net';
import type { EcsDocument } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';
import type { EncodeContext } from './encoder-common.js';
import { bsdHeader, text } from './encoder-common.js';
import { controlText } from '../../agent/util/terminal-text.js';

/** `[cef key, ECS path, label for custom keys]`; documented in docs/syslog.md. */
export const CEF_MAP: readonly (readonly [key: string, path: string, label?: string])[] = [
  ['act', F.eventAction],
  ['cat', F.eventDataset],
  ['externalId', F.eventId],
  ['msg', F.message],
  ['dvchost', F.hostName],
  ['dpt', F.destinationPort],
  ['dproc', F.processName],
  ['dpid', F.processPid],
  ['duser', F.userName],
  ['duid', F.userId],
  ['sproc', F.processParentName],
  ['spid', F.processParentPid],
  ['filePath', F.processExecutable],
  ['cs1', F.ruleId, 'rule_id'],
  ['cs2', F.ruleName, 'rule_name'],
  ['cs3', F.processCommandLine, 'command_line'],
  ['cs4', F.listenerScope, 'listener_scope'],
  ['cs5', F.threatTechniqueId, 'technique'],
  ['cs6', F.processEntityId, 'entity_id'],
  ['cn1', F.eventRiskScore, 'risk_score'],
];

// eslint-disable-next-line no-control-regex -- control characters must never reach the wire raw
const CEF_HEADER_SPECIAL = /[\\|\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex -- control characters must never reach the wire raw
const CEF_VALUE_SPECIAL = /[\\=\u0000-\u001f\u007f-\u009f]/g;

/**
 * Header fields (ArcSight CEF): `\` and `|` escaped with a backslash. The header has no escape for
 * line breaks or other control characters: they are written as the text `\n`, `\r`, `\t`, `\xNN`
 * (its backslash escaped, so a parser reads back a backslash, `n`, ...), never raw.
 */
export function escapeCefHeader(v: string): string {
  return v.replace(CEF_HEADER_SPECIAL, (ch) => (ch === '\\' || ch === '|' ? `\\${ch}` : `\\${controlText(ch)}`));
}

/**
 * Extension values (ArcSight CEF): `\` and `=` escaped with a backslash; each CR is `\r` and each
 * LF `\n` (the spec's multi-line escapes, so CR LF is `\r\n`); other control characters are written
 * as the text `\xNN` / `\t` (backslash escaped), never raw. `|` needs no escape here.
 */
export function escapeCefValue(v: string): string {
  return v.replace(CEF_VALUE_SPECIAL, (ch) => {
    if (ch === '\\' || ch === '=') return `\\${ch}`;
    if (ch === '\r') return '\\r';
    if (ch === '\n') return '\\n';
    return `\\${controlText(ch)}`;
  });
}

/** CEF severity 0-10 from ECS event.severity (21 -> 2, 47 -> 5, 73 -> 7, 99 -> 10); 1 when absent. */
export function cefSeverity(doc: EcsDocument): number {
  const s = Number(text(doc, F.eventSeverity));
  if (!Number.isFinite(s)) return 1;
  return Math.max(0, Math.min(10, Math.round(s / 10)));
}

/** ArcSight spec limits: custom strings 4000 chars, the rest 1023. */
function cap(key: string, v: string): string {
  return v.slice(0, key.startsWith('cs') ? 4000 : 1023);
}

/**
 * `<PRI>Mmm dd hh:mm:ss HOST CEF:0|portwarden|portwarden|VERSION|SIG|NAME|SEV|k=v ...` with
 * SignatureID = rule.id (alerts) or event.action, Name = message or event.action.
 */
export function encodeCef(ctx: EncodeContext, doc: EcsDocument): string {
  const action = text(doc, F.eventAction) ?? 'event';
  const header = [
    'portwarden', 'portwarden', text(doc, F.agentVersion) ?? '0',
    text(doc, F.ruleId) ?? action, text(doc, F.message) ?? action,
  ].map(escapeCefHeader);
  const ext: string[] = [];
  const ts = Date.parse(text(doc, F.timestamp) ?? '');
  if (!Number.isNaN(ts)) ext.push(`rt=${ts}`);
  const transport = text(doc, F.networkTransport);
  if (transport !== undefined) ext.push(`proto=${escapeCefValue(transport.toUpperCase())}`);
  const ip = text(doc, F.destinationIp);
  if (ip !== undefined) {
    ext.push(isIPv4(ip) ? `dst=${ip}` : `c6a3=${escapeCefValue(ip)} c6a3Label=Destination IPv6 Address`);
  }
  for (const [key, path, label] of CEF_MAP) {
    const v = text(doc, path);
    if (v === undefined) continue;
    ext.push(`${key}=${escapeCefValue(cap(key, v))}`);
    if (label !== undefined) ext.push(`${key}Label=${label}`);
  }
  ext.push(`dvcpid=${ctx.procId}`);
  return `${bsdHeader(ctx, doc)}CEF:0|${header.join('|')}|${cefSeverity(doc)}|${ext.join(' ')}`;
}
