import type { OutboundEvent } from '../types.js';
import type { EncodeContext } from './encoder-common.js';
import { truncateUtf8 } from './encoder-common.js';
import { encodeRfc5424 } from './encoder-rfc5424.js';
import { encodeRfc3164 } from './encoder-rfc3164.js';
import { encodeCef } from './encoder-cef.js';
import { encodeLeef } from './encoder-leef.js';

export type SyslogFormat = 'rfc5424' | 'rfc3164' | 'cef' | 'leef';
export type Framing = 'octet-counting' | 'lf' | 'datagram';

export function encodeMessage(format: SyslogFormat, ctx: EncodeContext, ev: OutboundEvent): string {
  switch (format) {
    case 'rfc5424': return encodeRfc5424(ctx, ev.doc, ev.json);
    case 'rfc3164': return encodeRfc3164(ctx, ev.doc, ev.json);
    case 'cef': return encodeCef(ctx, ev.doc);
    case 'leef': return encodeLeef(ctx, ev.doc);
  }
}

/**
 * The message as two strings whose concatenation is `encodeMessage`'s: the syslog header (with
 * structured data) and the ECS JSON, so a batch encoder writes the JSON as it is instead of
 * copying it into a joined string first. CEF and LEEF are built whole (an empty second part).
 */
export function encodeMessageParts(format: SyslogFormat, ctx: EncodeContext, ev: OutboundEvent): [head: string, body: string] {
  switch (format) {
    case 'rfc5424': return [encodeRfc5424(ctx, ev.doc, ''), ev.json];
    case 'rfc3164': return [encodeRfc3164(ctx, ev.doc, ''), ev.json];
    case 'cef': return [encodeCef(ctx, ev.doc), ''];
    case 'leef': return [encodeLeef(ctx, ev.doc), ''];
  }
}

/** One encoded, framed message and whether the cap cut it. */
export interface Frame {
  bytes: Buffer;
  truncated: boolean;
}

/**
 * Encodes and frames one event: the message is cut to `maxBytes` on a UTF-8 boundary, then
 * framed per RFC 6587 (`LEN SP MSG`, or `MSG LF` with any LF inside replaced by a space) or left
 * bare for a datagram (RFC 5426: one message per datagram).
 */
export function encodeFrame(
  format: SyslogFormat, framing: Framing, ctx: EncodeContext, ev: OutboundEvent, maxBytes: number,
): Frame {
  let text = encodeMessage(format, ctx, ev);
  if (framing === 'lf' && text.includes('\n')) text = text.replace(/\n/g, ' ');
  const full = Buffer.from(text, 'utf8');
  const msg = truncateUtf8(full, maxBytes);
  const truncated = msg.length < full.length;
  switch (framing) {
    case 'datagram': return { bytes: msg, truncated };
    case 'lf': return { bytes: Buffer.concat([msg, LF]), truncated };
    case 'octet-counting': return { bytes: Buffer.concat([Buffer.from(`${msg.length} `), msg]), truncated };
  }
}

const LF = Buffer.from('\n');

/** A batch encoded for a stream: one buffer, and each frame a view into it. */
export interface StreamBatch {
  frames: Buffer[];
  truncated: number;
}

/**
 * Encodes and frames a batch for TCP/TLS into one buffer (one allocation, each message written into
 * it once, no per-event buffer or concat): each frame is a view into it, so a sender writes the
 * batch with one `write` and no copy. The bytes are exactly those `encodeFrame` gives for each event.
 */
export function encodeStreamBatch(
  format: SyslogFormat, framing: 'octet-counting' | 'lf', ctx: EncodeContext, batch: readonly OutboundEvent[], maxBytes: number,
): StreamBatch {
  const parts: (readonly [string, string] | Buffer)[] = [];
  const lengths: number[] = [];
  let total = 0;
  let truncated = 0;
  for (const ev of batch) {
    let [head, body] = encodeMessageParts(format, ctx, ev);
    if (framing === 'lf') {
      if (head.includes('\n')) head = head.replace(/\n/g, ' ');
      if (body.includes('\n')) body = body.replace(/\n/g, ' ');
    }
    const len = Buffer.byteLength(head, 'utf8') + Buffer.byteLength(body, 'utf8');
    if (len > maxBytes) {
      const cut = truncateUtf8(Buffer.from(head + body, 'utf8'), maxBytes);
      parts.push(cut);
      lengths.push(cut.length);
      truncated++;
    } else {
      parts.push([head, body]);
      lengths.push(len);
    }
    total += lengths[lengths.length - 1] ?? 0;
  }
  for (const len of lengths) total += framing === 'lf' ? 1 : String(len).length + 1;
  const all = Buffer.allocUnsafe(total);
  const frames: Buffer[] = [];
  let at = 0;
  parts.forEach((part, i) => {
    const start = at;
    if (framing === 'octet-counting') at += all.write(`${lengths[i] ?? 0} `, at, 'latin1');
    if (Buffer.isBuffer(part)) {
      at += part.copy(all, at);
    } else {
      at += all.write(part[0], at, 'utf8');
      if (part[1] !== '') at += all.write(part[1], at, 'utf8');
    }
    if (framing === 'lf') all[at++] = 0x0a;
    frames.push(all.subarray(start, at));
  });
  return { frames, truncated };
}
