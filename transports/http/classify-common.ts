import type { SendResult } from '../types.js';

/** What the sender hands to a classifier: the status, the headers that matter and the body text. */
export interface HttpResponse {
  status: number;
  /** The `Retry-After` header, verbatim. */
  retryAfter?: string | undefined;
  /** The `Location` header of a redirect. */
  location?: string | undefined;
  /** Response body text (possibly truncated by the sender). */
  body: string;
}

/** A classifier's answer: a SendResult, or "the body was too large, send less" (HTTP 413). */
export type Verdict = SendResult | { kind: 'too_large'; reason: string };

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or bad. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** A retryable result that carries `Retry-After` when the peer sent one. */
export function retryable(reason: string, res?: HttpResponse): SendResult {
  const after = retryAfterMs(res?.retryAfter);
  return after === undefined ? { kind: 'retryable', reason } : { kind: 'retryable', reason, retryAfterMs: after };
}

/** A short, single-line excerpt of a response body for reasons and logs. */
export function excerpt(body: string, max = 200): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}...` : one;
}

/**
 * Answers every format agrees on: redirects, auth failures and 413 (pause / pause / halve),
 * 408, 429 and 5xx (retry). Undefined for the rest, which each format reads its own way.
 */
export function classifyCommonStatus(res: HttpResponse, what: string): Verdict | undefined {
  const s = res.status;
  if (s >= 300 && s < 400) {
    return { kind: 'paused', reason: `${what}: HTTP ${s} redirect to ${res.location ?? '(no location)'}; set url to the final address` };
  }
  if (s === 401 || s === 403) return { kind: 'paused', reason: `${what}: HTTP ${s} ${excerpt(res.body)}` };
  if (s === 413) return { kind: 'too_large', reason: `${what}: HTTP 413 request body too large` };
  if (s === 408 || s === 429 || s >= 500) return retryable(`${what}: HTTP ${s} ${excerpt(res.body)}`, res);
  return undefined;
}

/**
 * A generic NDJSON webhook: 2xx delivered; 408/429/5xx retried (with Retry-After); 401/403 and
 * redirects pause the output; 413 halves the batch; any other 4xx dead-letters the batch.
 */
export function classifyNdjson(res: HttpResponse): Verdict {
  if (res.status >= 200 && res.status < 300) return { kind: 'ok' };
  const common = classifyCommonStatus(res, 'webhook');
  if (common !== undefined) return common;
  if (res.status === 404 || res.status === 405) {
    return { kind: 'paused', reason: `webhook: HTTP ${res.status}: check the url` };
  }
  return { kind: 'permanent', reason: `webhook: HTTP ${res.status} ${excerpt(res.body)}` };
}
