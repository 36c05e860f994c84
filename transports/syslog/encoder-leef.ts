import type { EcsDocument } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';
import type { EncodeContext } from './encoder-common.js';
import { bsdHeader, text } from './encoder-common.js';
import { cefSeverity } from './encoder-cef.js';
import { controlText } from '../../agent/util/terminal-text.js';

/** `[leef key, ECS path]`: QRadar's predefined keys first, then portwarden's own. See docs/syslog.md. */
export const LEEF_MAP: readonly (readonly [key: string, path: string])[] = [
  ['cat', F.eventDataset],
  ['dst', F.destinationIp],
  ['dstPort', F.destinationPort],
  ['usrName', F.userName],
  ['action', F.eventAction],
  ['eventId', F.eventId],
  ['pid', F.processPid],
  ['process', F.processName],
  ['executable', F.processExecutable],
  ['commandLine', F.processCommandLine],
  ['ppid', F.processParentPid],
  ['parent', F.processParentName],
  ['ruleId', F.ruleId],
  ['ruleName', F.ruleName],
  ['riskScore', F.eventRiskScore],
  ['scope', F.listenerScope],
  ['technique', F.threatTechniqueId],
  ['msg', F.message],
];

/** The attribute delimiter: TAB, declared in the LEEF 2.0 header as `x09`. */
export const LEEF_DELIMITER = '\t';
export const LEEF_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

// eslint-disable-next-line no-control-regex -- control characters must never reach the wire raw
const LEEF_HEADER_SPECIAL = /[\\|\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex -- control characters must never reach the wire raw
const LEEF_VALUE_SPECIAL = /[\\\u0000-\u001f\u007f-\u009f]/g;

/**
 * Header fields (IBM LEEF 2.0): `\` and `|` escaped with a backslash; control characters written as
 * the text `\t`, `\r`, `\n`, `\xNN` (its backslash escaped), never raw.
 */
export function escapeLeefHeader(v: string): string {
  return v.replace(LEEF_HEADER_SPECIAL, (ch) => (ch === '\\' || ch === '|' ? `\\${ch}` : `\\${controlText(ch)}`));
}

/**
 * Attribute values (IBM LEEF 2.0): the backslash escaped as `\\` and the TAB delimiter as `\t`, so
 * values are unambiguous; CR and LF as `\r` and `\n`; other control characters (C0, DEL, C1) as
 * the text `\xNN` (its backslash escaped). Nothing below U+0020, DEL or C1 is written raw.
 */
export function escapeLeefValue(v: string): string {
  return v.replace(LEEF_VALUE_SPECIAL, (ch) => {
    if (ch === '\\') return '\\\\';
    if (ch === '\t' || ch === '\r' || ch === '\n') return controlText(ch);
    return `\\${controlText(ch)}`;
  });
}

/**
 * `<PRI>Mmm dd hh:mm:ss HOST LEEF:2.0|portwarden|portwarden|VERSION|EVENTID|x09|k=v<TAB>...`
 * with EventID = rule.id (alerts) or event.action, devTime in ISO 8601 with milliseconds.
 */
export function encodeLeef(ctx: EncodeContext, doc: EcsDocument): string {
  const action = text(doc, F.eventAction) ?? 'event';
  const header = ['portwarden', 'portwarden', text(doc, F.agentVersion) ?? '0', text(doc, F.ruleId) ?? action]
    .map(escapeLeefHeader);
  const attrs: string[] = [];
  const ts = Date.parse(text(doc, F.timestamp) ?? '');
  if (!Number.isNaN(ts)) attrs.push(`devTime=${new Date(ts).toISOString()}`, `devTimeFormat=${LEEF_TIME_FORMAT}`);
  const transport = text(doc, F.networkTransport);
  if (transport !== undefined) attrs.push(`proto=${escapeLeefValue(transport.toUpperCase())}`);
  attrs.push(`sev=${Math.max(1, cefSeverity(doc))}`);
  for (const [key, path] of LEEF_MAP) {
    const v = text(doc, path);
    if (v !== undefined) attrs.push(`${key}=${escapeLeefValue(v)}`);
  }
  return `${bsdHeader(ctx, doc)}LEEF:2.0|${header.join('|')}|x09|${attrs.join(LEEF_DELIMITER)}`;
}
