import { classifyCommonStatus, excerpt } from './classify-common.js';
import type { HttpResponse, Verdict } from './classify-common.js';

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
