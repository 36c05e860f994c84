import type { OutboundEvent } from '../types.js';
import type { EncodedItem } from './encoded.js';

/** One ECS document per line, exactly the pipeline's JSON text, newline-terminated. */
export function encodeNdjsonItem(e: OutboundEvent): EncodedItem {
  return { head: '', json: e.json, tail: '\n' };
}
