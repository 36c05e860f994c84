import type { EcsDocument } from '../../agent/ecs/document.js';
import { fieldReader } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';
import type { EncodeContext } from './encoder-common.js';
import { capUtf8, headerField, pri, rfc3339, scalar, text } from './encoder-common.js';

/**
 * The structured-data parameters, in order: what a relay filters on without parsing the JSON.
 * Absent fields are left out. The names are this element's own (RFC 5424 private SD-ID).
 */
export const SD_PARAMS: readonly (readonly [name: string, path: string])[] = [
  ['action', F.eventAction],
  ['dataset', F.eventDataset],
  ['kind', F.eventKind],
  ['event_id', F.eventId],
  ['transport', F.networkTransport],
  ['ip', F.destinationIp],
  ['port', F.destinationPort],
  ['scope', F.listenerScope],
  ['pid', F.processPid],
  ['process', F.processName],
  ['executable', F.processExecutable],
  ['ppid', F.processParentPid],
  ['parent', F.processParentName],
  ['user', F.userName],
  ['rule_id', F.ruleId],
  ['rule_name', F.ruleName],
  ['severity', F.eventSeverity],
  ['risk_score', F.eventRiskScore],
  ['technique', F.threatTechniqueId],
];

/** Longest SD value in bytes; the exact value is always in MSG (the ECS JSON). */
export const SD_VALUE_MAX = 1024;

/**
 * PARAM-VALUE escaping (RFC 5424 6.3.3): `"`, `\` and `]` get a backslash. Control characters
 * (C0 with newlines and tabs, DEL, C1) become spaces so that LF framing, line-oriented relays and
 * terminals stay safe; the exact value is in MSG.
 */
export function escapeSdValue(v: string): string {
  const capped = capUtf8(v, SD_VALUE_MAX);
  if (!SD_SPECIAL.test(capped)) return capped;
  return capped.replace(SD_CONTROL, ' ').replace(/["\\\]]/g, '\\$&');
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const SD_SPECIAL = /[\u0000-\u001f\u007f-\u009f"\\\]]/;
// eslint-disable-next-line no-control-regex -- replacing control characters is the point
const SD_CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** SD_PARAMS with each path split once (this runs for every event). */
const SD_READERS = SD_PARAMS.map(([name, path]) => [name, fieldReader(path)] as const);

export function structuredData(ctx: EncodeContext, doc: EcsDocument): string {
  let sd = `[${ctx.sdId}`;
  for (const [name, read] of SD_READERS) {
    const v = scalar(read(doc));
    if (v !== undefined) sd += ` ${name}="${escapeSdValue(v)}"`;
  }
  return `${sd}]`;
}

/**
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG` with MSG = the ECS JSON document.
 * Header fields are printable ASCII cut to their RFC limits (255/48/128/32).
 */
export function encodeRfc5424(ctx: EncodeContext, doc: EcsDocument, json: string): string {
  const host = headerField(text(doc, F.hostName) ?? ctx.hostName, 255);
  const app = headerField(ctx.appName, 48);
  const procId = headerField(String(ctx.procId), 128);
  const msgId = headerField(text(doc, F.eventAction), 32);
  const ts = rfc3339(text(doc, F.timestamp));
  return `${pri(ctx, doc)}1 ${ts} ${host} ${app} ${procId} ${msgId} ${structuredData(ctx, doc)} ${json}`;
}
