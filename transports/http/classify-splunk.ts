import type { SendResult } from '../types.js';
import { classifyCommonStatus, excerpt, retryable } from './classify-common.js';
import type { HttpResponse, Verdict } from './classify-common.js';

/** HEC status codes that mean the output is misconfigured, not that the events are bad. */
const CONFIG_CODES = new Map<number, string>([
  [7, 'the index is not allowed for this token'],
  [10, 'the data channel is missing'],
  [11, 'the data channel is invalid'],
  [14, 'indexer acknowledgement is disabled for this token'],
]);

interface HecBody {
  text?: unknown;
  code?: unknown;
  ackId?: unknown;
  'invalid-event-number'?: unknown;
}

function parse(body: string): HecBody {
  try {
    const v = JSON.parse(body) as unknown;
    return v !== null && typeof v === 'object' ? (v) : {};
  } catch {
    return {};
  }
}

function describe(status: number, b: HecBody, body: string): string {
  const text = typeof b.text === 'string' ? b.text : excerpt(body);
  return typeof b.code === 'number' ? `splunk_hec: HTTP ${status} code ${b.code} ${text}` : `splunk_hec: HTTP ${status} ${text}`;
}

/** HEC's answer to an event POST: a verdict, or "accepted, wait for this ackId". */
export type HecVerdict = Verdict | { kind: 'accepted'; ackId: number };

/**
 * Reads a `/services/collector/event` response for a batch of `count` envelopes.
 * 200: delivered (or accepted with an `ackId` when indexer acknowledgement is on). 503 busy, 429
 * and 5xx: retried. 401/403 (token) and config codes (index, channel, ack disabled): paused.
 * 400 "invalid data format" names the bad event: it is dead-lettered and the others go around
 * again (HEC may have indexed those before it: at least once). Any other 400: dead-letter.
 */
export function classifyHec(res: HttpResponse, count: number): HecVerdict {
  const b = parse(res.body);
  if (res.status >= 200 && res.status < 300) {
    return typeof b.ackId === 'number' ? { kind: 'accepted', ackId: b.ackId } : { kind: 'ok' };
  }
  const common = classifyCommonStatus(res, 'splunk_hec');
  if (common !== undefined) {
    return common.kind === 'paused' || common.kind === 'retryable'
      ? { ...common, reason: describe(res.status, b, res.body) }
      : common;
  }
  const code = typeof b.code === 'number' ? b.code : -1;
  const config = CONFIG_CODES.get(code);
  if (config !== undefined) return { kind: 'paused', reason: `${describe(res.status, b, res.body)} (${config})` };
  if (res.status === 404 || res.status === 405) {
    return { kind: 'paused', reason: `${describe(res.status, b, res.body)}: check the url` };
  }
  const bad = b['invalid-event-number'];
  if (typeof bad === 'number' && Number.isInteger(bad) && bad >= 0 && bad < count && count > 1) {
    const retry = Array.from({ length: count }, (_, i) => i).filter((i) => i !== bad);
    return { kind: 'partial', retry, rejected: [{ index: bad, reason: describe(res.status, b, res.body) }] };
  }
  return { kind: 'permanent', reason: describe(res.status, b, res.body) };
}

/**
 * Reads a `/services/collector/ack` answer for one ackId: `true` = indexed, `false` = not yet.
 * An error answer becomes a SendResult (the batch goes around again, or the output pauses).
 */
export function classifyAck(res: HttpResponse, ackId: number): 'acked' | 'pending' | SendResult {
  if (res.status >= 200 && res.status < 300) {
    const acks = (parse(res.body) as { acks?: unknown }).acks;
    if (acks === null || typeof acks !== 'object') return retryable(`splunk_hec: unreadable ack answer ${excerpt(res.body, 80)}`);
    return (acks as Record<string, unknown>)[String(ackId)] === true ? 'acked' : 'pending';
  }
  const verdict = classifyHec(res, 1);
  switch (verdict.kind) {
    case 'accepted':
    case 'ok':
    case 'too_large':
    case 'permanent':
    case 'partial':
      // The events were accepted; only the ack query failed: send them again rather than lose them.
      return retryable(`splunk_hec ack: HTTP ${res.status} ${excerpt(res.body)}`);
    case 'retryable':
    case 'paused':
      return verdict;
  }
}
