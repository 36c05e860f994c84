import type { ServerResponse } from 'node:http';
import { PeerServer, sendJson } from './server.js';
import type { RecordedRequest } from './server.js';

/**
 * A generic NDJSON webhook receiver: keeps every line of every 2xx-answered request, and answers
 * the programmed statuses first (one per request), 200 after that.
 */
export class WebhookPeer {
  readonly requests: RecordedRequest[] = [];
  /** Lines of the requests answered 2xx, parsed. */
  readonly received: Record<string, unknown>[] = [];
  readonly statuses: { status: number; retryAfter?: string }[] = [];

  private constructor(private readonly server: PeerServer) {}

  static async start(): Promise<WebhookPeer> {
    const ref: { peer?: WebhookPeer } = {};
    const server = await PeerServer.start((req, res) => { ref.peer?.handle(req, res); });
    const peer = new WebhookPeer(server);
    ref.peer = peer;
    return peer;
  }

  get url(): string {
    return `${this.server.origin}/ingest`;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private handle(req: RecordedRequest, res: ServerResponse): void {
    this.requests.push(req);
    const next = this.statuses.shift() ?? { status: 200 };
    if (next.status >= 200 && next.status < 300) {
      for (const line of req.body.toString('utf8').split('\n')) {
        if (line !== '') this.received.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    sendJson(res, next.status, { status: next.status }, next.retryAfter === undefined ? {} : { 'retry-after': next.retryAfter });
  }
}
