import { Pool, errors as undiciErrors } from 'undici';
import type { buildConnector } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { SendResult } from '../types.js';
import { tlsVerifyFailure } from '../shared/tls.js';
import { errorMessage } from '../../agent/util/errors.js';
import type { HttpResponse } from './classify-common.js';

const gzipAsync = promisify(gzip);
/** Level 3: most of level 6's ratio on JSON for about half the CPU (zlib runs on the threadpool). */
export const GZIP_LEVEL = 3;
/** Longest response body read; Elasticsearch answers are small thanks to filter_path. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface SenderOptions {
  /** `http(s)://host:port` */
  origin: string;
  timeout: number;
  gzip: boolean;
  tls?: ConnectionOptions | undefined;
  /** Fixed headers on every request (auth, content type, user-agent, the user's extras). */
  headers: Record<string, string>;
}

/** A request body ready for the wire, and whether it is gzipped. */
export interface PreparedBody {
  bytes: Buffer;
  gzip: boolean;
}

/** The outcome of one POST: a response to classify, or a transport-level failure already classified. */
export type PostOutcome = { kind: 'response'; res: HttpResponse } | { kind: 'failed'; result: SendResult };

/**
 * One keep-alive connection pool per output (undici `Pool`, not the global fetch). Does I/O only:
 * it never retries, and reports network failures as retryable and certificate failures as paused.
 */
export class HttpSender {
  private readonly pool: Pool;
  private closed = false;

  constructor(private readonly opts: SenderOptions) {
    this.pool = new Pool(opts.origin, {
      connections: 4,
      pipelining: 1,
      headersTimeout: opts.timeout,
      bodyTimeout: opts.timeout,
      connectTimeout: Math.min(opts.timeout, 10_000),
      keepAliveTimeout: 30_000,
      maxResponseSize: MAX_RESPONSE_BYTES,
      ...(opts.tls === undefined ? {} : { connect: opts.tls as Partial<buildConnector.BuildOptions> }),
    });
  }

  /** Gzips (when configured) off the event loop; the caller may reuse the result across attempts. */
  async prepare(raw: Buffer): Promise<PreparedBody> {
    return this.opts.gzip ? { bytes: await gzipAsync(raw, { level: GZIP_LEVEL }), gzip: true } : { bytes: raw, gzip: false };
  }

  async post(path: string, prepared: PreparedBody, signal: AbortSignal): Promise<PostOutcome> {
    if (signal.aborted) return { kind: 'failed', result: { kind: 'retryable', reason: 'aborted' } };
    if (this.closed) return { kind: 'failed', result: { kind: 'retryable', reason: 'output is shut down' } };
    const body = prepared.bytes;
    const headers: Record<string, string> = { ...this.opts.headers, 'content-length': String(body.length) };
    if (prepared.gzip) headers['content-encoding'] = 'gzip';
    try {
      const res = await this.pool.request({ path, method: 'POST', headers, body, signal });
      const text = await res.body.text();
      const header = (name: string): string | undefined => {
        const v = res.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      return {
        kind: 'response',
        res: { status: res.statusCode, retryAfter: header('retry-after'), location: header('location'), body: text },
      };
    } catch (err) {
      return { kind: 'failed', result: this.classifyError(err, signal) };
    }
  }

  private classifyError(err: unknown, signal: AbortSignal): SendResult {
    if (signal.aborted) return { kind: 'retryable', reason: 'aborted' };
    const tls = tlsVerifyFailure(err) ?? (err instanceof Error ? tlsVerifyFailure(err.cause) : undefined);
    if (tls !== undefined) return { kind: 'paused', reason: `${this.opts.origin}: ${tls}` };
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
      return { kind: 'retryable', reason: `${this.opts.origin}: no answer within ${this.opts.timeout} ms` };
    }
    const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
    return { kind: 'retryable', reason: `${this.opts.origin}: ${code === undefined ? '' : `${code} `}${errorMessage(err)}` };
  }

  /** Closes idle connections and waits (bounded) for requests in flight; then destroys the rest. */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => { resolve('timeout'); }, graceMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.pool.close().then(() => 'closed' as const), bounded]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.pool.destroy();
  }
}
