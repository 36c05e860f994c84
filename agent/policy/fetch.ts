/**
 * One conditional GET of the bundle over HTTPS: the server certificate verified (system CAs or the
 * configured `ca`, TLS 1.2 at least), If-None-Match with the last ETag, the body bounded, one
 * deadline for the whole exchange. I/O only: what a result means is the poller's business.
 */
import { request } from 'node:https';
import { errorMessage } from '../util/errors.js';
import { retryAfterMs } from '../../transports/http/classify-common.js';

export interface FetchOptions {
  url: string;
  /** PEM of the trusted CA(s); the system's when absent. */
  ca?: Buffer;
  etag?: string;
  timeoutMs: number;
  maxBytes: number;
  userAgent: string;
}

export type FetchResult =
  | { kind: 'not-modified' }
  | { kind: 'fetched'; body: Buffer; etag?: string }
  | { kind: 'failed'; reason: string; retryAfterMs?: number };

const MAX_REDIRECTS = 3;

function once(opts: FetchOptions, url: URL, signal: AbortSignal): Promise<FetchResult | { kind: 'redirect'; to: URL }> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'GET',
      signal,
      // One request every few minutes: a pooled keep-alive socket would only go stale in between.
      agent: false,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
      headers: {
        accept: 'application/json',
        'accept-encoding': 'identity',
        'user-agent': opts.userAgent,
        ...(opts.etag === undefined ? {} : { 'if-none-match': opts.etag }),
      },
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 304) { res.resume(); resolve({ kind: 'not-modified' }); return; }
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location !== undefined) {
        res.resume();
        resolve({ kind: 'redirect', to: new URL(res.headers.location, url) });
        return;
      }
      if (status !== 200) {
        res.resume();
        const ra = retryAfterMs(res.headers['retry-after']);
        resolve({ kind: 'failed', reason: `HTTP ${status} from ${url.host}`, ...(ra === undefined ? {} : { retryAfterMs: ra }) });
        return;
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > opts.maxBytes) {
        resolve({ kind: 'failed', reason: `the bundle is ${declared} bytes, more than policy.max_bytes (${opts.maxBytes})` });
        res.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) {
          resolve({ kind: 'failed', reason: `the bundle is more than policy.max_bytes (${opts.maxBytes}) bytes` });
          res.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const etag = res.headers.etag;
        resolve({ kind: 'fetched', body: Buffer.concat(chunks), ...(etag === undefined ? {} : { etag }) });
      });
      res.on('error', (err) => { resolve({ kind: 'failed', reason: errorMessage(err) }); });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = signal.aborted ? `no complete answer within ${opts.timeoutMs} ms` : `${err.code ?? ''}${err.code === undefined ? '' : ': '}${err.message}`;
      resolve({ kind: 'failed', reason: `${url.host}: ${why}` });
    });
    req.end();
  });
}

/** Never rejects. Redirects are followed (at most 3) to https URLs only. */
export async function fetchBundle(opts: FetchOptions): Promise<FetchResult> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let url = new URL(opts.url);
  for (let hop = 0; ; hop++) {
    const r = await once(opts, url, signal);
    if (r.kind !== 'redirect') return r;
    if (r.to.protocol !== 'https:') return { kind: 'failed', reason: `redirected to ${r.to.protocol}//${r.to.host}, not https: refused` };
    if (hop >= MAX_REDIRECTS) return { kind: 'failed', reason: `more than ${MAX_REDIRECTS} redirects` };
    url = r.to;
  }
}
