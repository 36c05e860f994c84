import type { OutboundEvent } from '../types.js';
import type { EncodedItem } from './encoded.js';
import { getField } from '../../agent/ecs/document.js';
import { Dataset, F } from '../../agent/ecs/fields.js';

export const SPLUNK_SOURCE = 'portwarden';

/** Sourcetype per dataset, `<product>:<technology>` (shortest unique, as Splunk's naming guide asks). */
const SOURCETYPES: Record<string, string> = {
  [Dataset.network]: 'portwarden:network',
  [Dataset.process]: 'portwarden:process',
  [Dataset.alerts]: 'portwarden:alert',
  [Dataset.agent]: 'portwarden:agent',
};

export function sourcetypeOf(e: OutboundEvent): string {
  return SOURCETYPES[e.doc.event.dataset] ?? 'portwarden:agent';
}

const FRACTION_RE = /^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$/;

/**
 * `@timestamp` as the JSON number text of epoch seconds with its full fraction (microseconds are
 * kept; going through a double would round them). Undefined when the timestamp does not parse.
 */
export function epochSecondsText(timestamp: string): string | undefined {
  const m = FRACTION_RE.exec(timestamp);
  const whole = m === null ? timestamp : `${m[1] ?? ''}${m[3] ?? ''}`;
  const ms = Date.parse(whole);
  if (Number.isNaN(ms)) return undefined;
  const seconds = Math.floor(ms / 1000);
  const fraction = m?.[2]?.replace(/0+$/, '') ?? '';
  return fraction === '' ? String(seconds) : `${seconds}.${fraction}`;
}

export interface SplunkTarget {
  /** HEC index; the token's default index when absent. */
  index?: string | undefined;
}

/**
 * One HEC event envelope, newline-terminated (HEC batches are concatenated objects, no array).
 * `event` is the pipeline's JSON text of the ECS document, byte for byte.
 */
export function encodeHecEnvelope(e: OutboundEvent, target: SplunkTarget): EncodedItem {
  const time = epochSecondsText(e.doc['@timestamp']);
  const host = getField(e.doc, F.hostName);
  let head = time === undefined ? '{' : `{"time":${time},`;
  if (typeof host === 'string' && host !== '') head += `"host":${JSON.stringify(host)},`;
  head += `"source":"${SPLUNK_SOURCE}","sourcetype":${JSON.stringify(sourcetypeOf(e))},`;
  if (target.index !== undefined) head += `"index":${JSON.stringify(target.index)},`;
  return { head: `${head}"event":`, json: e.json, tail: '}\n' };
}

/** Paths of the event and ack endpoints under the configured base URL's path. */
export function hecPaths(basePath: string): { event: string; ack: string } {
  const base = basePath.replace(/\/+$/, '').replace(/\/services\/collector(\/event)?$/, '');
  return { event: `${base}/services/collector/event`, ack: `${base}/services/collector/ack` };
}
