import { z } from 'zod';
import { parseBytes, parseDuration } from '../agent/util/units.js';

/** A duration in config: `500ms`, `2s`, `5m`, `24h`, `7d`, or a number of milliseconds. Output: ms. */
export const duration = (what = 'a duration like 500ms, 2s, 5m, 24h') =>
  z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ms;
  });

/** A size in config: `1048576`, `64KiB`, `100MB`, `2GiB`. Output: bytes. */
export const byteSize = () =>
  z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const n = parseBytes(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 1048576, 64KiB, 100MB, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });

/** `host:port` with a numeric port. */
export const hostPort = () =>
  z.string().regex(/^(\[[0-9a-fA-F:.%\w]+\]|[^\s:]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464');

/** TLS client settings shared by every network output. Verification is on unless turned off. */
export const tlsSchema = z.strictObject({
  ca: z.string().optional().describe('PEM file of the CA(s) that sign the server certificate; system CAs when absent'),
  cert: z.string().optional().describe('PEM client certificate file, for mutual TLS'),
  key: z.string().optional().describe('PEM private key file of the client certificate'),
  server_name: z.string().optional().describe('SNI and the name checked in the server certificate; the host when absent'),
  reject_unauthorized: z.boolean().default(true).describe('verify the server certificate (never turn off in production)'),
}).refine((t) => (t.cert === undefined) === (t.key === undefined), { error: 'cert and key go together' });
export type TlsConfig = z.output<typeof tlsSchema>;
