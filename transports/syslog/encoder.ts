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
