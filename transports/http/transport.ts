import { randomUUID } from 'node:crypto';
import type { OutboundEvent, SendResult, Transport, TransportContext } from '../types.js';
import { tlsClientOptions } from '../shared/tls.js';
import { errorMessage } from '../../agent/util/errors.js';
import type { HttpConfig } from './config.js';
import { authorizationHeader, contentType, gzipEnabled } from './request.js';
import { bulkPath, encodeBulkItem } from './encoder-elasticsearch.js';
import { encodeHecEnvelope, hecPaths } from './encoder-splunk.js';
import { encodeNdjsonItem } from './encoder-ndjson.js';
import { classifyBulk } from './classify-elasticsearch.js';
import { classifyHec } from './classify-splunk.js';
import { classifyNdjson } from './classify-common.js';
import type { HttpResponse, Verdict } from './classify-common.js';
import { HttpSender } from './sender.js';
import { waitForAck } from './splunk-ack.js';
import { BatchOutcome, prefixWithin } from './batching.js';
import { itemBytes, maxItemsBytes, writeItems } from './encoded.js';
import type { EncodedItem } from './encoded.js';

const USER_AGENT = 'portwarden';

/**
 * The `http` output: encodes a batch for Elasticsearch `_bulk`, Splunk HEC or a generic NDJSON
 * endpoint, POSTs it over a pooled keep-alive connection and classifies the answer. It never
 * retries or sleeps on its own (except polling HEC acks within `ack_timeout`). A batch whose body
 * would exceed the current cap goes out in several requests within one send; after an HTTP 413
 * the cap is halved for the life of the output and the refused events go out in smaller requests.
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
  private warnedNoAck = false;

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
    const outcome = new BatchOutcome(batch.length);
    // The common case, one request: the whole batch clearly fits, no per-event byte counting.
    const upper = maxItemsBytes(items);
    if (upper <= this.capBytes) {
      const r = await this.post(sender, writeItems(items, items.length, upper), items.length, signal);
      if (r.kind !== 'too_large') return r;
      this.lowerCap(r.reason, r.bodyBytes);
    }
    // Several requests, each within the cap; a 413 halves the cap and the same events go out
    // again in smaller requests (a split, not a retry: the server refused the size, not the data).
    const sizes = items.map(itemBytes);
    let offset = 0;
    while (offset < items.length) {
      if (signal.aborted) return outcome.result({ at: offset, result: { kind: 'retryable', reason: 'aborted' } });
      const rest = sizes.slice(offset);
      const count = prefixWithin(rest, this.capBytes);
      const bytes = rest.slice(0, count).reduce((a, b) => a + b, 0);
      if (count === 1 && bytes > this.cfg.max_body_bytes) {
        outcome.add({ kind: 'permanent', reason: `event of ${bytes} bytes is over max_body_bytes (${this.cfg.max_body_bytes})` }, offset, 1);
        offset += 1;
        continue;
      }
      const r = await this.post(sender, writeItems(items.slice(offset), count, bytes), count, signal);
      if (r.kind === 'too_large') {
        if (count === 1) {
          outcome.add({ kind: 'permanent', reason: `${r.reason} (one event of ${bytes} bytes)` }, offset, 1);
          offset += 1;
        } else {
          this.lowerCap(r.reason, bytes);
        }
        continue;
      }
      if (!outcome.add(r, offset, count)) return outcome.result({ at: offset, result: r });
      offset += count;
    }
    return outcome.result();
  }

  /** One request for `count` events; waits for the HEC ack when indexer acknowledgement is on. */
  private async post(sender: HttpSender, body: Buffer, count: number, signal: AbortSignal): Promise<SendResult | { kind: 'too_large'; reason: string; bodyBytes: number }> {
    const outcome = await sender.post(this.path, await sender.prepare(body), signal);
    if (outcome.kind === 'failed') return outcome.result;
    const verdict = this.classify(outcome.res, count);
    if (verdict.kind === 'too_large') return { ...verdict, bodyBytes: body.length };
    if (verdict.kind === 'ok' && this.cfg.indexer_ack && !this.warnedNoAck) {
      this.warnedNoAck = true;
      this.ctx.logger.warn('http output: indexer_ack is on but HEC returned no ackId (acknowledgement is off for this token); delivery is confirmed by HTTP 200 only', { output: this.ctx.name });
    }
    if (verdict.kind !== 'accepted') return verdict;
    const query = (json: string) => sender.post(this.ackPath, { bytes: Buffer.from(json), gzip: false }, signal);
    return waitForAck(query, verdict.ackId, this.cfg.ack_timeout, signal);
  }

  private lowerCap(reason: string, refusedBytes: number): void {
    this.capBytes = Math.max(1, Math.min(this.capBytes, Math.floor(refusedBytes / 2)));
    this.ctx.logger.warn('http output: the server refused a request body as too large; sending smaller requests from now on', {
      output: this.ctx.name, reason, refused_bytes: refusedBytes, cap_bytes: this.capBytes,
    });
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

/** The `http` output's constructor (transports/registry.ts). */
export function createHttpTransport(config: HttpConfig, ctx: TransportContext): HttpTransport {
  return new HttpTransport(config, ctx);
}
