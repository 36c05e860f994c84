import type { OutboundEvent } from '../types.js';

const NEWLINE = Buffer.from('\n');

/**
 * A batch as NDJSON bytes: each event's UTF-8 JSON and a newline. Events read back from the spool
 * already carry those bytes (`bytes`), so nothing is decoded to a string and encoded again.
 */
export function ndjsonBytes(batch: readonly OutboundEvent[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of batch) parts.push(e.bytes ?? Buffer.from(e.json, 'utf8'), NEWLINE);
  return Buffer.concat(parts);
}
