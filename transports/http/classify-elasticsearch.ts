import type { SendResult } from '../types.js';
import { classifyCommonStatus, excerpt, retryable } from './classify-common.js';
import type { HttpResponse, Verdict } from './classify-common.js';

interface BulkItemResult {
  status?: unknown;
  error?: { type?: unknown; reason?: unknown } | string | null;
}

interface BulkResponse {
  errors?: unknown;
  items?: unknown;
}

function itemOf(raw: unknown): BulkItemResult | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  // Each item is `{ "<op>": { status, error } }` with one key, the operation.
  const inner = Object.values(raw)[0] as unknown;
  return inner !== null && typeof inner === 'object' ? (inner) : undefined;
}

function errorText(item: BulkItemResult): string {
  const e = item.error;
  if (typeof e === 'string') return e;
  if (e === null || e === undefined) return 'no reason given';
  const type = typeof e.type === 'string' ? e.type : 'error';
  return typeof e.reason === 'string' ? `${type}: ${e.reason}` : type;
}

function wholeRequestError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { type?: unknown; reason?: unknown } };
    const e = parsed.error;
    if (e !== undefined && typeof e.reason === 'string') return `${String(e.type)}: ${e.reason}`;
  } catch { /* not JSON: show the text */ }
  return excerpt(body);
}

/**
 * Reads an Elasticsearch `_bulk` response for a batch of `count` create operations.
 * Per item: 2xx and 409 (already indexed, same `_id`) are delivered; 408, 429 and 5xx go around
 * again; 401/403/404 pause the whole output (a re-send of the delivered ones is a harmless 409);
 * 400 and any other 4xx are dead-lettered with Elasticsearch's reason. Whole request: 429/5xx
 * retried with Retry-After, 413 halves the batch, 401/403 pause, 400 dead-letters the batch.
 */
export function classifyBulk(res: HttpResponse, count: number): Verdict {
  if (res.status < 200 || res.status >= 300) {
    const common = classifyCommonStatus(res, 'elasticsearch');
    if (common !== undefined) return common;
    if (res.status === 404 || res.status === 405) {
      return { kind: 'paused', reason: `elasticsearch: HTTP ${res.status} ${wholeRequestError(res.body)}: check the url` };
    }
    return { kind: 'permanent', reason: `elasticsearch: HTTP ${res.status} ${wholeRequestError(res.body)}` };
  }
  let parsed: BulkResponse;
  try {
    parsed = JSON.parse(res.body) as BulkResponse;
  } catch {
    return retryable(`elasticsearch: unreadable _bulk response: ${excerpt(res.body, 80)}`);
  }
  if (parsed.errors === false) return { kind: 'ok' };
  const items = Array.isArray(parsed.items) ? (parsed.items as unknown[]) : [];
  if (items.length !== count) {
    return retryable(`elasticsearch: _bulk answered ${items.length} items for ${count} operations`);
  }
  return classifyItems(items);
}

function classifyItems(items: unknown[]): SendResult {
  const retry: number[] = [];
  const rejected: { index: number; reason: string }[] = [];
  for (const [index, raw] of items.entries()) {
    const item = itemOf(raw);
    const status = typeof item?.status === 'number' ? item.status : 0;
    if ((status >= 200 && status < 300) || status === 409) continue;
    if (item === undefined || status === 0) {
      retry.push(index);
    } else if (status === 401 || status === 403 || status === 404) {
      return { kind: 'paused', reason: `elasticsearch: item ${index}: HTTP ${status} ${errorText(item)}` };
    } else if (status === 408 || status === 429 || status >= 500) {
      retry.push(index);
    } else {
      rejected.push({ index, reason: `elasticsearch: HTTP ${status} ${errorText(item)}` });
    }
  }
  if (retry.length === 0 && rejected.length === 0) return { kind: 'ok' };
  if (retry.length === items.length) return retryable(`elasticsearch: every item was refused for now (429/5xx)`);
  if (rejected.length === items.length) {
    const first = rejected[0]?.reason ?? '';
    if (rejected.every((r) => r.reason === first)) return { kind: 'permanent', reason: first };
  }
  return { kind: 'partial', retry, rejected };
}
