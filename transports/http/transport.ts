import { randomUUID } from 'node:crypto';
import type { OutboundEvent, SendResult, Transport, TransportContext } from '../types.js';
import { tlsClientOptions } from '../shared/tls.js';
import { errorMessage } from '../../agent/util/errors.js';
import type { HttpConfig } from './config.js';
import { gzipEnabled } from './config.js';
import { authorizationHeader, contentType } from './auth.js';
import { bulkPath, encodeBulkItem } from './encoder-elasticsearch.js';
import { encodeHecEnvelope, hecPaths } from './encoder-splunk.js';
import { encodeNdjsonItem } from './encoder-ndjson.js';
import { classifyBulk } from './classify-elasticsearch.js';
import { classifyHec } from './classify-splunk.js';
import { classifyNdjson } from './classify-ndjson.js';
import type { HttpResponse, Verdict } from './classify-common.js';
import { HttpSender } from './sender.js';
import { waitForAck } from './splunk-ack.js';
import { liftPrefixResult, prefixWithin } from './batching.js';
import { itemBytes, maxItemsBytes, writeItems } from './encoded.js';
import type { EncodedItem } from './encoded.js';

const USER_AGENT = 'portwarden';

/**
 * The `http` output: encodes a batch for Elasticsearch `_bulk`, Splunk HEC or a generic NDJSON
 * endpoint, POSTs it over a pooled keep-alive connection and classifies the answer. It never
 * retries or sleeps on its own (except polling HEC acks within `ack_timeout`). A batch whose body
 * would exceed the current cap goes out as a prefix, the rest reported for retry; after an
 * HTTP 413 the cap is halved for the life of the output.
 */
export class HttpTransport implements Transport {
  readonly type = 'http';
  private sender: HttpSender | undefined;
  private starting: Promise<HttpSender> | undefined;
  private capBytes: number;
  private readonly channel = randomUUID();
  private readonly url: URL;
  private readonly path: string;
  private readonly ackPath: string;
  private shutDown = false;

  constructor(private readonly cfg: HttpConfig, private readonly ctx: TransportContext) {
    this.capBytes = cfg.max_body_bytes;
    this.url = new URL(cfg.url);
    const base = this.url.pathname + this.url.search;
    const hec = hecPaths(this.url.pathname);
    this.path = cfg.format === 'elasticsearch' ? bulkPath(this.url.pathname) : cfg.format === 'splunk_hec' ? hec.event : base;
    this.ackPath = hec.ack;
  }

  /** The current request body cap in bytes (lowered after an HTTP 413). */
  get bodyCap(): number {
    return this.capBytes;
  }

  async start(): Promise<void> {
    await this.ensureSender().catch(() => undefined);
  }

  private ensureSender(): Promise<HttpSender> {
    if (this.sender !== undefined) return Promise.resolve(this.sender);
    this.starting ??= (async () => {
      const tls = this.cfg.tls === undefined || this.url.protocol !== 'https:'
        ? undefined
        : await tlsClientOptions(this.cfg.tls, this.url.hostname);
      const headers: Record<string, string> = { ...this.cfg.headers, 'content-type': contentType(this.cfg), 'user-agent': USER_AGENT };
      const auth = authorizationHeader(this.cfg);
      if (auth !== undefined) headers.authorization = auth;
      if (this.cfg.indexer_ack) headers['x-splunk-request-channel'] = this.channel;
      this.sender = new HttpSender({ origin: this.url.origin, timeout: this.cfg.timeout, gzip: gzipEnabled(this.cfg), tls, headers });
      return this.sender;
    })().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private encode(e: OutboundEvent): EncodedItem {
    switch (this.cfg.format) {
      case 'elasticsearch':
        return encodeBulkItem(e, { namespace: this.cfg.namespace, index: this.cfg.index });
      case 'splunk_hec':
        return encodeHecEnvelope(e, { index: this.cfg.index });
      case 'ndjson':
        return encodeNdjsonItem(e);
    }
  }

  private classify(res: HttpResponse, count: number): Verdict | { kind: 'accepted'; ackId: number } {
    switch (this.cfg.format) {
      case 'elasticsearch':
        return classifyBulk(res, count);
      case 'splunk_hec':
        return classifyHec(res, count);
      case 'ndjson':
        return classifyNdjson(res);
    }
  }

  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    if (batch.length === 0) return { kind: 'ok' };
    if (this.shutDown) return { kind: 'retryable', reason: 'output is shut down' };
    let sender: HttpSender;
    try {
      sender = await this.ensureSender();
    } catch (err) {
      return { kind: 'paused', reason: `http output ${this.ctx.name}: ${errorMessage(err)}` };
    }
    const items = batch.map((e) => this.encode(e));
    const upper = maxItemsBytes(items);
    let count = items.length;
    let body: Buffer;
    if (upper <= this.capBytes) {
      // The common case: the whole batch clearly fits, no per-event byte counting.
      body = writeItems(items, count, upper);
    } else {
      const sizes = items.map(itemBytes);
      count = prefixWithin(sizes, this.capBytes);
      const first = sizes[0] ?? 0;
      if (count === 1 && first > this.cfg.max_body_bytes) {
        const reason = `event of ${first} bytes is over max_body_bytes (${this.cfg.max_body_bytes})`;
        return liftPrefixResult({ kind: 'permanent', reason }, 1, batch.length);
      }
      body = writeItems(items, count, sizes.slice(0, count).reduce((a, b) => a + b, 0));
    }
    const bodyBytes = body.length;
    const outcome = await sender.post(this.path, await sender.prepare(body), signal);
    if (outcome.kind === 'failed') return outcome.result;
    let verdict = this.classify(outcome.res, count);
    if (verdict.kind === 'accepted') {
      const query = (json: string) => sender.post(this.ackPath, { bytes: Buffer.from(json), gzip: false }, signal);
      verdict = await waitForAck(query, verdict.ackId, this.cfg.ack_timeout, signal);
    }
    if (verdict.kind === 'too_large') return this.tooLarge(verdict.reason, count, bodyBytes, batch.length);
    return liftPrefixResult(verdict, count, batch.length);
  }

  private tooLarge(reason: string, count: number, bodyBytes: number, total: number): SendResult {
    if (count === 1) return liftPrefixResult({ kind: 'permanent', reason: `${reason} (one event of ${bodyBytes} bytes)` }, 1, total);
    this.capBytes = Math.max(1, Math.floor(bodyBytes / 2));
    this.ctx.logger.warn('http output: the server refused a request body as too large; later requests are smaller', {
      output: this.ctx.name, refused_bytes: bodyBytes, cap_bytes: this.capBytes,
    });
    return { kind: 'retryable', reason: `${reason} (${bodyBytes} bytes); now sending at most ${this.capBytes} bytes per request`, retryAfterMs: 0 };
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    const sender = this.sender ?? (this.starting === undefined ? undefined : await this.starting.catch(() => undefined));
    await sender?.close();
  }
}
