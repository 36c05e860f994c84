import { getField } from '../../agent/ecs/document.js';
import type { EcsDocument } from '../../agent/ecs/document.js';
import { F } from '../../agent/ecs/fields.js';

/** What every encoder needs besides the document. */
export interface EncodeContext {
  facility: number;
  appName: string;
  sdId: string;
  /** Agent pid (PROCID) and the fallback HOSTNAME when the document has no host.name. */
  procId: number;
  hostName: string;
}

/** Syslog severities (RFC 5424 table 2) we emit. */
export const Severity = { crit: 2, err: 3, warning: 4, notice: 5, info: 6 } as const;

/**
 * Syslog severity from ECS `event.severity` (portwarden uses 21/47/73/99): 99 crit, 73 err,
 * 47 warning, 21 notice, anything lower or absent (ordinary events) info.
 */
export function syslogSeverity(doc: EcsDocument): number {
  const s = getField(doc, F.eventSeverity);
  if (typeof s !== 'number') return Severity.info;
  if (s >= 99) return Severity.crit;
  if (s >= 73) return Severity.err;
  if (s >= 47) return Severity.warning;
  if (s >= 21) return Severity.notice;
  return Severity.info;
}

export function pri(ctx: EncodeContext, doc: EcsDocument): string {
  return `<${ctx.facility * 8 + syslogSeverity(doc)}>`;
}

/** A field as text: strings as they are, numbers and booleans rendered, arrays of them comma-joined. */
export function text(doc: EcsDocument, path: string): string | undefined {
  return scalar(getField(doc, path));
}

/** A value as text: strings as they are, numbers and booleans rendered, arrays of them comma-joined. */
export function scalar(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const parts = v.map(scalar).filter((p): p is string => p !== undefined);
    return parts.length === 0 ? undefined : parts.join(',');
  }
  return undefined;
}

/**
 * A header field (HOSTNAME, APP-NAME, PROCID, MSGID): printable US-ASCII only (others become `_`),
 * at most `max` chars, `-` (NILVALUE) when empty.
 */
export function headerField(value: string | undefined, max: number): string {
  if (value === undefined || value === '') return '-';
  const clean = (PRINTABLE.test(value) ? value : value.replace(/[^!-~]/g, '_')).slice(0, max);
  return clean === '' ? '-' : clean;
}

const PRINTABLE = /^[!-~]*$/;
const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i;

/** RFC 5424 TIMESTAMP: RFC 3339 with a 3-6 digit fraction; the event time, else now. */
export function rfc3339(ts: string | undefined, now: () => Date = () => new Date()): string {
  const m = ts === undefined ? null : RFC3339.exec(ts);
  if (m === null) return now().toISOString();
  const frac = (m[2] ?? '').slice(0, 6).padEnd(3, '0');
  return `${m[1] ?? ''}.${frac}${(m[3] ?? 'Z').toUpperCase()}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss` (day space-padded) in the agent's local time, as the RFC says. */
export function bsdTimestamp(ts: string | undefined): string {
  const parsed = ts === undefined ? Number.NaN : Date.parse(ts);
  const d = Number.isNaN(parsed) ? new Date() : new Date(parsed);
  const two = (n: number) => String(n).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, ' ');
  return `${MONTHS[d.getMonth()] ?? 'Jan'} ${day} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** `<PRI>Mmm dd hh:mm:ss HOST ` — the BSD header used by RFC 3164, CEF and LEEF messages. */
export function bsdHeader(ctx: EncodeContext, doc: EcsDocument): string {
  const host = headerField(text(doc, F.hostName) ?? ctx.hostName, 255);
  return `${pri(ctx, doc)}${bsdTimestamp(text(doc, F.timestamp))} ${host} `;
}

/**
 * Cuts `buf` to at most `max` bytes without splitting a UTF-8 sequence. Returns the buffer itself
 * when it already fits.
 */
export function truncateUtf8(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let cut = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the sequence that crosses the cap.
  while (cut > 0 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return buf.subarray(0, cut);
}

/** Keeps at most `max` UTF-8 bytes of a string, on a character boundary. */
export function capUtf8(value: string, max: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no encoding to know they fit.
  if (value.length * 3 <= max) return value;
  const buf = Buffer.from(value, 'utf8');
  return buf.length <= max ? value : truncateUtf8(buf, max).toString('utf8');
}
