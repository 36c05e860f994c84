import type { ServerResponse } from 'node:http';
import { BadJsonAt, PeerServer, sendJson, splitConcatenatedJson } from './server.js';
import type { PeerTls, RecordedRequest } from './server.js';

export interface HecEnvelope {
  time?: number;
  host?: string;
  source?: string;
  sourcetype?: string;
  index?: string;
  event: Record<string, unknown>;
}

export interface SplunkHecPeerOptions {
  token: string;
  /** Indexer acknowledgement enabled for the token. */
  ack?: boolean;
  /** Indexes the token may write to; any index when absent. */
  allowedIndexes?: string[];
  tls?: PeerTls;
}

/** When an ackId turns true: after this many queries for it, or never (the indexer lost it). */
export type AckPlan = { afterQueries: number } | 'never';

/**
 * A Splunk HTTP Event Collector as documented: `/services/collector/event` takes concatenated JSON
 * envelopes with `Authorization: Splunk <token>` (401 code 2 without, 403 code 4 for a wrong one);
 * can be made busy (503 code 9); with indexer acknowledgement on it needs
 * `X-Splunk-Request-Channel`, returns an `ackId` per request and answers `/services/collector/ack`
 * with `{"acks": {"<id>": bool}}`. Gzip bodies are decoded.
 */
export class SplunkHecPeer {
  /** Events HEC accepted (HTTP 200), with the channel and ackId of their request. */
  readonly events: { envelope: HecEnvelope; channel?: string; ackId?: number }[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Answer 503 "Server is busy" to this many of the next event requests. */
  busy = 0;
  ackPlan: AckPlan = { afterQueries: 0 };
  /** ackIds this peer has answered `true` for. */
  readonly acknowledged = new Set<number>();
  ackQueries = 0;
  private readonly nextAckId = new Map<string, number>();
  private readonly queriesFor = new Map<string, number>();

  private constructor(private readonly server: PeerServer, private readonly opts: SplunkHecPeerOptions) {}

  static async start(opts: SplunkHecPeerOptions): Promise<SplunkHecPeer> {
    const ref: { peer?: SplunkHecPeer } = {};
    const server = await PeerServer.start((req, res) => { ref.peer?.handle(req, res); }, opts.tls);
    const peer = new SplunkHecPeer(server, opts);
    ref.peer = peer;
    return peer;
  }

  get url(): string {
    return this.server.origin;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private handle(req: RecordedRequest, res: ServerResponse): void {
    this.requests.push(req);
    const path = req.path.split('?')[0] ?? '';
    const auth = req.headers.authorization;
    if (auth === undefined) { sendJson(res, 401, { text: 'Token is required', code: 2 }); return; }
    if (auth !== `Splunk ${this.opts.token}`) { sendJson(res, 403, { text: 'Invalid token', code: 4 }); return; }
    const channelHeader = req.headers['x-splunk-request-channel'];
    const channel = Array.isArray(channelHeader) ? channelHeader[0] : channelHeader;
    if (this.opts.ack === true && channel === undefined) { sendJson(res, 400, { text: 'Data channel is missing', code: 10 }); return; }
    if (path === '/services/collector/event') { this.event(req, res, channel); return; }
    if (path === '/services/collector/ack') { this.ack(req, res, channel); return; }
    sendJson(res, 404, { text: 'The requested URL was not found on this server.', code: 404 });
  }

  private event(req: RecordedRequest, res: ServerResponse, channel: string | undefined): void {
    if (this.busy > 0) {
      this.busy--;
      sendJson(res, 503, { text: 'Server is busy', code: 9 });
      return;
    }
    let values: unknown[];
    try {
      values = splitConcatenatedJson(req.body.toString('utf8'));
    } catch (err) {
      const at = err instanceof BadJsonAt ? err.index : 0;
      sendJson(res, 400, { text: 'Invalid data format', code: 6, 'invalid-event-number': at });
      return;
    }
    if (values.length === 0) { sendJson(res, 400, { text: 'No data', code: 5 }); return; }
    for (const [i, v] of values.entries()) {
      const env = v as Partial<HecEnvelope>;
      if (env.event === undefined) { sendJson(res, 400, { text: 'Event field is required', code: 12, 'invalid-event-number': i }); return; }
      if (env.index !== undefined && this.opts.allowedIndexes !== undefined && !this.opts.allowedIndexes.includes(env.index)) {
        sendJson(res, 400, { text: 'Incorrect index', code: 7, 'invalid-event-number': i });
        return;
      }
    }
    let ackId: number | undefined;
    if (this.opts.ack === true && channel !== undefined) {
      ackId = this.nextAckId.get(channel) ?? 0;
      this.nextAckId.set(channel, ackId + 1);
    }
    for (const v of values) {
      const rec: { envelope: HecEnvelope; channel?: string; ackId?: number } = { envelope: v as HecEnvelope };
      if (channel !== undefined) rec.channel = channel;
      if (ackId !== undefined) rec.ackId = ackId;
      this.events.push(rec);
    }
    sendJson(res, 200, ackId === undefined ? { text: 'Success', code: 0 } : { text: 'Success', code: 0, ackId });
  }

  private ack(req: RecordedRequest, res: ServerResponse, channel: string | undefined): void {
    if (this.opts.ack !== true) { sendJson(res, 400, { text: 'ACK is disabled', code: 14 }); return; }
    const ids = (JSON.parse(req.body.toString('utf8')) as { acks?: number[] }).acks ?? [];
    const acks: Record<string, boolean> = {};
    for (const id of ids) {
      this.ackQueries++;
      const key = `${channel ?? ''}/${id}`;
      const n = (this.queriesFor.get(key) ?? 0) + 1;
      this.queriesFor.set(key, n);
      const issued = id < (this.nextAckId.get(channel ?? '') ?? 0);
      const done = issued && this.ackPlan !== 'never' && n > this.ackPlan.afterQueries;
      if (done) this.acknowledged.add(id);
      acks[String(id)] = done;
    }
    sendJson(res, 200, { acks });
  }
}
