import type { OutboundEvent } from '../types.js';
import { getField } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';

/** Where an event goes and how it is identified, for `_bulk` `create` operations. */
export interface BulkTarget {
  /** Data stream namespace (`logs-<event.dataset>-<namespace>`). */
  namespace: string;
  /** A fixed data stream or index for every event, instead of the per-dataset data stream. */
  index?: string | undefined;
}

/** `logs-<event.dataset>-<namespace>`, e.g. `logs-portwarden.network-default`. */
export function dataStreamName(e: OutboundEvent, target: BulkTarget): string {
  if (target.index !== undefined) return target.index;
  const dataset = getField(e.doc, F.eventDataset);
  return `logs-${typeof dataset === 'string' ? dataset : 'portwarden.agent'}-${target.namespace}`;
}

/**
 * One `_bulk` action line plus the document line, newline-terminated. Data streams accept only
 * `create`; `_id` = `event.id` makes a re-send idempotent (409 = already indexed). The document is
 * the pipeline's JSON text, byte for byte.
 */
export function encodeBulkItem(e: OutboundEvent, target: BulkTarget): string {
  const id = getField(e.doc, F.eventId);
  const action = typeof id === 'string' && id !== ''
    ? { create: { _index: dataStreamName(e, target), _id: id } }
    : { create: { _index: dataStreamName(e, target) } };
  return `${JSON.stringify(action)}\n${e.json}\n`;
}

/** The request path of the bulk endpoint under the configured base URL's path. */
export function bulkPath(basePath: string): string {
  const base = basePath.replace(/\/+$/, '');
  // Only the fields the classifier reads: a 500-item response shrinks from ~100 KB to a few KB.
  const query = 'filter_path=errors,items.*.status,items.*.error';
  return base.endsWith('/_bulk') ? `${base}?${query}` : `${base}/_bulk?${query}`;
}
