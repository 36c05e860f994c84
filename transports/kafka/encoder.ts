import { getField } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';
import type { OutboundEvent } from '../types.js';
import type { KafkaRecord, TopicRecords } from './client.js';
import { PLACEHOLDER } from './topic.js';

export interface EncodeOptions {
  /** Topic template, `{field.path}` placeholders allowed. */
  readonly topic: string;
  /** ECS field whose value is the key; '' for no key. */
  readonly keyField: string;
  readonly maxMessageBytes: number;
}

export type Encoded =
  | { ok: true; topic: string; record: KafkaRecord; bytes: number }
  | { ok: false; reason: string };

/** Kafka's per-record framing (lengths, varints, timestamp deltas) is well under this. */
const RECORD_OVERHEAD = 64;
const ILLEGAL_TOPIC_CHARS = /[^A-Za-z0-9._-]/g;

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Fills `{field.path}` placeholders; undefined names the first field the event lacks. */
export function renderTopic(template: string, ev: OutboundEvent): { topic: string } | { missing: string } {
  let missing: string | undefined;
  const topic = template.replace(PLACEHOLDER, (_m, path: string) => {
    const v = scalarText(getField(ev.doc, path));
    if (v === undefined || v === '') missing ??= path;
    return (v ?? '').replace(ILLEGAL_TOPIC_CHARS, '_');
  });
  if (missing !== undefined) return { missing };
  return { topic: topic.slice(0, 249) };
}

/**
 * One event -> its topic and record: key from `keyField` (host.id by default, so one host's events
 * stay in order on one partition), value = the JSON text exactly as the pipeline serialised it,
 * headers `event.dataset` and `event.kind` so consumers can route without parsing the value.
 * Pure; an event that cannot be produced (oversize, topic field missing) is refused with a reason.
 */
export function encodeEvent(ev: OutboundEvent, opts: EncodeOptions): Encoded {
  const t = renderTopic(opts.topic, ev);
  if ('missing' in t) return { ok: false, reason: `topic ${opts.topic}: the event has no ${t.missing}` };
  const headers: Record<string, string> = {};
  for (const path of [F.eventDataset, F.eventKind]) {
    const v = scalarText(getField(ev.doc, path));
    if (v !== undefined) headers[path] = v;
  }
  const key = opts.keyField === '' ? null : scalarText(getField(ev.doc, opts.keyField)) ?? null;
  let bytes = RECORD_OVERHEAD + Buffer.byteLength(ev.json) + (key === null ? 0 : Buffer.byteLength(key));
  for (const [k, v] of Object.entries(headers)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 4;
  if (bytes > opts.maxMessageBytes) {
    return { ok: false, reason: `record of ${String(bytes)} bytes is larger than max_message_bytes (${String(opts.maxMessageBytes)})` };
  }
  return { ok: true, topic: t.topic, record: { key, value: ev.json, headers }, bytes };
}

/** A batch grouped by topic, remembering which batch index each record came from. */
export interface EncodedBatch {
  readonly topics: TopicRecords[];
  /** indices[i][j] = batch index of topics[i].messages[j]. */
  readonly indices: number[][];
  readonly rejected: { index: number; reason: string }[];
}

export function encodeBatch(batch: readonly OutboundEvent[], opts: EncodeOptions): EncodedBatch {
  const byTopic = new Map<string, { records: KafkaRecord[]; indices: number[] }>();
  const rejected: { index: number; reason: string }[] = [];
  batch.forEach((ev, index) => {
    const e = encodeEvent(ev, opts);
    if (!e.ok) {
      rejected.push({ index, reason: e.reason });
      return;
    }
    let group = byTopic.get(e.topic);
    if (group === undefined) {
      group = { records: [], indices: [] };
      byTopic.set(e.topic, group);
    }
    group.records.push(e.record);
    group.indices.push(index);
  });
  const topics: TopicRecords[] = [];
  const indices: number[][] = [];
  for (const [topic, g] of byTopic) {
    topics.push({ topic, messages: g.records });
    indices.push(g.indices);
  }
  return { topics, indices, rejected };
}
