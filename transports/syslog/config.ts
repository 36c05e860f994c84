import { z } from 'zod';
import { byteSize, duration, tlsSchema } from '../../config/types.js';
import { FACILITIES } from './facilities.js';
import type { FacilityName } from './facilities.js';

/** SD-NAME (RFC 5424 6.3.2): 1-32 printable ASCII characters except `=`, SP, `]`, `"`. */
const SD_NAME = /^[!#-<>-\\^-~]{1,32}$/;
/** Header fields: printable US-ASCII (33-126). */
const PRINTUSASCII = /^[!-~]+$/;

export const syslogConfigSchema = z.strictObject({
  type: z.literal('syslog'),
  host: z.string().min(1).describe('syslog server host name or IP address (required)'),
  port: z.number().int().min(1).max(65535).optional()
    .describe('server port; default 514 for udp and tcp, 6514 for tls (RFC 5425)'),
  protocol: z.enum(['udp', 'tcp', 'tls']).default('tcp')
    .describe('udp: one message per datagram, at most once; tcp/tls: stream, at least once'),
  format: z.enum(['rfc5424', 'rfc3164', 'cef', 'leef']).default('rfc5424')
    .describe('rfc5424 (structured data + ECS JSON), rfc3164 (legacy BSD), cef (ArcSight), leef (QRadar LEEF 2.0)'),
  framing: z.enum(['octet-counting', 'lf']).default('octet-counting')
    .describe('tcp/tls framing (RFC 6587): octet-counting "LEN SP MSG", or legacy "MSG LF"'),
  facility: z.union([z.enum(Object.keys(FACILITIES) as [FacilityName, ...FacilityName[]]), z.number().int().min(0).max(23)])
    .default('local0').describe('syslog facility, by name (local0) or code (16)'),
  app_name: z.string().regex(PRINTUSASCII, 'expected printable ASCII without spaces').max(48).default('portwarden')
    .describe('APP-NAME (RFC 5424, at most 48 chars) and the RFC 3164 TAG'),
  sd_id: z.string().regex(SD_NAME, 'expected an SD-ID of 1-32 printable ASCII chars without = ] " or space, e.g. portwarden@32473')
    .default('portwarden@32473').describe('ID of the RFC 5424 structured-data element (name@PEN for private IDs)'),
  max_message_bytes: byteSize({ max: 64 * 1024 ** 2 }).optional()
    .describe('longest message (before framing), cut on a UTF-8 boundary and counted; default 2048 for udp, 256KiB for tcp/tls'),
  resend_window: duration({ max: 3_600_000 }).default(5000)
    .describe('tcp/tls: a frame is confirmed once the connection stayed up this long after writing it; unconfirmed frames are re-sent after a reconnect'),
  resend_window_bytes: byteSize({ max: 1024 ** 3 }).default(8 * 1024 * 1024)
    .describe('tcp/tls: most unconfirmed bytes kept for re-sending (oldest dropped; right after a reconnect, sends wait instead)'),
  connect_timeout: duration({ max: 600_000 }).default(10_000).describe('tcp/tls: give up connecting (and the TLS handshake) after this long'),
  keepalive: duration({ max: 7_200_000 }).default(30_000).describe('tcp/tls: TCP keepalive idle time (0: off)'),
  tls: tlsSchema.prefault({}).describe('tls: server verification (on by default), optional client certificate, SNI'),
});
export type SyslogConfig = z.output<typeof syslogConfigSchema>;
