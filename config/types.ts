import { z } from 'zod';
import { parseBytes, parseDuration } from '../agent/util/units.js';

/** The longest delay a Node.js timer can wait (2^31-1 ms, 24.8 days); longer ones fire at once. */
export const TIMER_MAX_MS = 2 ** 31 - 1;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `90000` ms as `1.5m`, for error messages. */
export function showDuration(ms: number): string {
  for (const [unit, n] of [['d', DAY], ['h', HOUR], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= n && ms % (n / 10) === 0) return `${ms / n}${unit}`;
  }
  return `${ms}ms`;
}

/** `1073741824` as `1GiB`, for error messages. */
export function showBytes(n: number): string {
  for (const [unit, m] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= m && n % m === 0) return `${n / m}${unit}`;
  }
  return String(n);
}

/**
 * A duration in config: `500ms`, `2s`, `5m`, `24h`, `7d`, or a number of milliseconds. Output: ms.
 * At most `max` (default 24h; never more than TIMER_MAX_MS, beyond which a timer would spin).
 */
export const duration = (opts: { max?: number } = {}) => {
  const max = Math.min(opts.max ?? DAY, TIMER_MAX_MS);
  return z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    const ms = typeof v === 'number' ? v : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 2s, 5m, 24h, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (ms > max) {
      ctx.addIssue({ code: 'custom', message: `expected at most ${showDuration(max)}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ms;
  });
};

/** A size in config: `1048576`, `64KiB`, `100MB`, `2GiB`. Output: bytes. At most `max` (default 1TiB). */
export const byteSize = (opts: { max?: number } = {}) => {
  const max = opts.max ?? 1024 ** 4;
  return z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : parseBytes(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 1048576, 64KiB, 100MB, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (n > max) {
      ctx.addIssue({ code: 'custom', message: `expected at most ${showBytes(max)}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
};

/** `host:port` with a port from 1 to 65535 (0 too with `anyPort`: a local address the OS picks the port of). */
export const hostPort = (opts: { anyPort?: boolean } = {}) => {
  const min = opts.anyPort === true ? 0 : 1;
  return z.string().regex(/^(\[[0-9a-fA-F:.%\w]+\]|[^\s:]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464')
    .refine((s) => { const p = Number(s.slice(s.lastIndexOf(':') + 1)); return p >= min && p <= 65535; },
      { error: (iss) => `expected a port from ${min} to 65535 in host:port, got ${JSON.stringify(iss.input)}` });
};

/** TLS client settings shared by every network output. Verification is on unless turned off. */
export const tlsSchema = z.strictObject({
  ca: z.string().optional().describe('PEM file of the CA(s) that sign the server certificate; system CAs when absent'),
  cert: z.string().optional().describe('PEM client certificate file, for mutual TLS'),
  key: z.string().optional().describe('PEM private key file of the client certificate'),
  server_name: z.string().optional().describe('SNI and the name checked in the server certificate; the host when absent'),
  reject_unauthorized: z.boolean().default(true).describe('verify the server certificate (never turn off in production)'),
}).refine((t) => (t.cert === undefined) === (t.key === undefined), { error: 'cert and key go together' });
export type TlsConfig = z.output<typeof tlsSchema>;
