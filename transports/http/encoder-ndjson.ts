import type { OutboundEvent } from '../types.js';

/** One ECS document per line, exactly the pipeline's JSON text, newline-terminated. */
export function encodeNdjsonItem(e: OutboundEvent): string {
  return `${e.json}\n`;
}
