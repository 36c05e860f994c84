/**
 * One event encoded for a request body: `head`, the pipeline's JSON text untouched, `tail`.
 * Kept in parts so the body is written once into one buffer, without building and flattening
 * a concatenated string per event.
 */
export interface EncodedItem {
  head: string;
  json: string;
  tail: string;
}

/** The item as text (for tests and logs). */
export function itemText(item: EncodedItem): string {
  return item.head + item.json + item.tail;
}

/** UTF-8 size of the item. */
export function itemBytes(item: EncodedItem): number {
  return Buffer.byteLength(item.head) + Buffer.byteLength(item.json) + Buffer.byteLength(item.tail);
}

/**
 * A cheap upper bound of the UTF-8 size of all items (3 bytes per UTF-16 unit), so a batch that
 * clearly fits needs no exact byte count.
 */
export function maxItemsBytes(items: readonly EncodedItem[]): number {
  let units = 0;
  for (const i of items) units += i.head.length + i.json.length + i.tail.length;
  return units * 3;
}

/**
 * The first `count` items written into one buffer; `capacity` is at least their UTF-8 size
 * (the exact sum of itemBytes, or maxItemsBytes).
 */
export function writeItems(items: readonly EncodedItem[], count: number, capacity: number): Buffer {
  const buf = Buffer.allocUnsafe(capacity);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const item = items[i];
    if (item === undefined) break;
    off += buf.write(item.head, off);
    off += buf.write(item.json, off);
    off += buf.write(item.tail, off);
  }
  return off === capacity ? buf : buf.subarray(0, off);
}
