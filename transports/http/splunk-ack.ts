import { setTimeout as delay } from 'node:timers/promises';
import type { SendResult } from '../types.js';
import type { PostOutcome } from './sender.js';
import { classifyAck } from './classify-splunk.js';

/** First pause between ack queries; doubles up to POLL_MAX_MS. */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 1000;

/**
 * Waits for HEC indexer acknowledgement of one `ackId` by querying `/services/collector/ack` on the
 * same channel. Resolves ok only when Splunk answers `true`; when `timeoutMs` passes first (the
 * indexer may have lost the events) or the signal aborts, resolves retryable so the batch is sent
 * again (at least once). `query` posts the `{"acks":[id]}` body with the channel header.
 */
export async function waitForAck(
  query: (body: string) => Promise<PostOutcome>,
  ackId: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<SendResult> {
  const deadline = Date.now() + timeoutMs;
  const body = JSON.stringify({ acks: [ackId] });
  let pause = POLL_FIRST_MS;
  for (;;) {
    const outcome = await query(body);
    if (outcome.kind === 'failed') return outcome.result;
    const answer = classifyAck(outcome.res, ackId);
    if (answer === 'acked') return { kind: 'ok' };
    if (answer !== 'pending') return answer;
    const left = deadline - Date.now();
    if (left <= 0) return { kind: 'retryable', reason: `splunk_hec: ackId ${ackId} not acknowledged within ${timeoutMs} ms` };
    try {
      await delay(Math.min(pause, left), undefined, { signal });
    } catch {
      return { kind: 'retryable', reason: 'aborted while waiting for the indexer acknowledgement' };
    }
    pause = Math.min(pause * 2, POLL_MAX_MS);
  }
}
