import { z } from 'zod';
import { byteSize, duration } from '../../config/types.js';

const httpsUrl = z.string().refine((u) => URL.canParse(u) && new URL(u).protocol === 'https:' && new URL(u).username === '', {
  error: (iss) => `an https:// URL without user:password (the bundle is signed, the transport must still be private and authentic), got ${JSON.stringify(iss.input)}`,
});

/** The central policy: where the signed bundle is and which keys may sign it. Off when absent. */
export const policySchema = z.strictObject({
  url: httpsUrl.describe('HTTPS URL of the signed bundle (`portwarden policy sign`); any static web server or object store'),
  public_key: z.union([z.string(), z.array(z.string()).min(1)])
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .describe('PEM file(s) of the Ed25519 public key(s) a bundle must be signed with (several during a key rotation; relative paths: to the config file)'),
  ca: z.string().optional()
    .describe('PEM file of the CA(s) that sign the server certificate; the system CAs when absent (relative paths: to the config file)'),
  interval: duration().default(300_000).refine((ms) => ms >= 1000, 'expected at least 1s')
    .describe('how often the bundle is fetched, ±10 % (If-None-Match: an unchanged bundle costs one 304); after a failure sooner, backing off from 5s'),
  timeout: duration().default(30_000).refine((ms) => ms >= 1000, 'expected at least 1s')
    .describe('limit for one fetch, connection to last byte'),
  max_bytes: byteSize().default(4 * 1024 * 1024).refine((n) => n >= 1024, 'expected at least 1KiB')
    .describe('a larger response is refused without being read to the end'),
}).optional().describe('pull a signed central policy (rules, allowlist, sensitive ports, disabled rules) and apply it on top of `detect`; off when absent');
export type PolicyConfig = NonNullable<z.output<typeof policySchema>>;
