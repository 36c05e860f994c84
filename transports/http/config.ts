import { z } from 'zod';
import { byteSize, duration, tlsSchema } from '../../config/types.js';

export const HTTP_FORMATS = ['elasticsearch', 'splunk_hec', 'ndjson'] as const;
export type HttpFormat = (typeof HTTP_FORMATS)[number];

/**
 * The `http` output. Secrets (`token`, `api_key`, `password`) are only ever put in request
 * headers; they are never logged nor copied into a SendResult reason.
 */
export const httpConfigSchema = z.strictObject({
  type: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .describe('elasticsearch/splunk_hec: base URL (e.g. https://es:9200); ndjson: the full URL to POST to'),
  format: z.enum(HTTP_FORMATS).default('ndjson')
    .describe('elasticsearch: _bulk create into data streams; splunk_hec: HEC event envelopes; ndjson: one ECS document per line'),
  token: z.string().min(1).optional()
    .describe('splunk_hec: the HEC token (Authorization: Splunk <token>); other formats: a Bearer token'),
  api_key: z.string().min(1).optional()
    .describe('elasticsearch: base64 "id:api_key" as Kibana shows it (Authorization: ApiKey <api_key>)'),
  username: z.string().min(1).optional().describe('basic authentication user (elasticsearch, ndjson)'),
  password: z.string().optional().describe('basic authentication password; needs username'),
  headers: z.record(z.string(), z.string()).default({})
    .describe('extra request headers (never put secrets here: they are not redacted)'),
  gzip: z.boolean().optional()
    .describe('gzip request bodies (Content-Encoding: gzip); default on for elasticsearch and splunk_hec, off for ndjson'),
  timeout: duration({ max: 3_600_000 }).default(30_000).describe('longest wait for response headers and for the response body'),
  max_body_bytes: byteSize({ max: 1024 ** 3 }).default(5 * 1024 * 1024)
    .describe('largest uncompressed request body; larger batches go out in several sends, an event alone over it is dead-lettered'),
  namespace: z.string().regex(/^[a-z0-9_]{1,100}$/, 'expected lowercase letters, digits and _ (no -)').default('default')
    .describe('elasticsearch: data stream namespace, events go to logs-<event.dataset>-<namespace>'),
  index: z.string().min(1).optional()
    .describe('splunk_hec: the HEC index (else the token default); elasticsearch: one data stream or index for every event'),
  indexer_ack: z.boolean().default(false)
    .describe('splunk_hec: wait for indexer acknowledgement before an event counts as delivered'),
  ack_timeout: duration({ max: 3_600_000 }).default(20_000)
    .describe('splunk_hec with indexer_ack: longest wait for the ack, then the batch is sent again (the pipeline aborts any send after 30s)'),
  tls: tlsSchema.optional().describe('TLS client settings for https:// URLs'),
}).superRefine((c, ctx) => {
  const issue = (path: string, message: string) => { ctx.addIssue({ code: 'custom', path: [path], message }); };
  if (c.format === 'splunk_hec' && c.token === undefined) issue('token', 'format splunk_hec needs token (the HEC token)');
  if (c.api_key !== undefined && c.format !== 'elasticsearch') issue('api_key', 'api_key is for format elasticsearch');
  if (c.format === 'splunk_hec' && c.username !== undefined) issue('username', 'splunk_hec authenticates with token, not username');
  if (c.password !== undefined && c.username === undefined) issue('password', 'password needs username');
  if (c.username !== undefined && c.password === undefined) issue('username', 'username needs password');
  const auths = [c.api_key, c.username, c.format === 'splunk_hec' ? undefined : c.token].filter((a) => a !== undefined);
  if (auths.length > 1) issue('api_key', 'choose one of api_key, username/password and token');
  if (c.indexer_ack && c.format !== 'splunk_hec') issue('indexer_ack', 'indexer_ack is for format splunk_hec');
  if (c.tls !== undefined && !c.url.startsWith('https:')) issue('tls', 'tls needs an https:// url');
  for (const name of Object.keys(c.headers)) {
    if (/^(authorization|content-encoding|content-length|content-type|host)$/i.test(name)) {
      issue('headers', `header ${name} is set by the output itself`);
    }
  }
});

export type HttpConfig = z.output<typeof httpConfigSchema>;
