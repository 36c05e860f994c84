import type { OutboundEvent } from '../types.js';
import type { EncodedItem } from './encoded.js';

/** Where an event goes and how it is identified, for `_bulk` `create` operations. */
export interface BulkTarget {
  /** Data stream namespace (`logs-<event.dataset>-<namespace>`). */
  namespace: string;
  /** A fixed data stream or index for every event, instead of the per-dataset data stream. */
  index?: string | undefined;
}

/** `logs-<event.dataset>-<namespace>`, e.g. `logs-portwarden.network-default`. */
export function dataStreamName(e: OutboundEvent, target: BulkTarget): string {
  return target.index ?? `logs-${e.doc.event.dataset}-${target.namespace}`;
}

/**
 * One `_bulk` action line plus the document line, newline-terminated. Data streams accept only
 * `create`; `_id` = `event.id` makes a re-send idempotent (409 = already indexed). The document is
 * the pipeline's JSON text, byte for byte.
 */
export function encodeBulkItem(e: OutboundEvent, target: BulkTarget): EncodedItem {
  const id = e.doc.event.id;
  const index = JSON.stringify(dataStreamName(e, target));
  const head = id === '' ? `{"create":{"_index":${index}}}\n` : `{"create":{"_index":${index},"_id":${JSON.stringify(id)}}}\n`;
  return { head, json: e.json, tail: '\n' };
}

/** The request path of the bulk endpoint under the configured base URL's path. */
export function bulkPath(basePath: string): string {
  const base = basePath.replace(/\/+$/, '');
  // Only the fields the classifier reads: a 500-item response shrinks from ~100 KB to a few KB.
  const query = 'filter_path=errors,items.*.status,items.*.error';
  return base.endsWith('/_bulk') ? `${base}?${query}` : `${base}/_bulk?${query}`;
}
