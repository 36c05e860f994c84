import type { ServerResponse } from 'node:http';
import { PeerServer, sendJson } from './server.js';
import type { PeerTls, RecordedRequest } from './server.js';

/** What the peer answers for one item instead of indexing it (consumed one per attempt). */
export interface ItemAnswer {
  status: number;
  type?: string;
  reason?: string;
}

/** What the peer answers for a whole `_bulk` request instead of reading it (consumed one per request). */
export interface RequestAnswer {
  status: number;
  retryAfter?: string;
  body?: unknown;
}

export interface BulkOp {
  op: string;
  index: string;
  id: string | undefined;
  doc: Record<string, unknown>;
  /** The status this peer answered for the op. */
  status: number;
}

export interface ElasticsearchPeerOptions {
  /** Require `Authorization: ApiKey <apiKey>`. */
  apiKey?: string;
  /** Require basic authentication with these credentials. */
  basic?: { username: string; password: string };
  /** Answer 413 to bodies (decoded) larger than this, as `http.max_content_length` does. */
  maxBodyBytes?: number;
  tls?: PeerTls;
}

/**
 * An Elasticsearch `_bulk` endpoint that behaves as the documentation says: NDJSON action/document
 * pairs; data streams take only `create` and need `@timestamp`; documents are kept by `_id`, so a
 * re-sent `create` answers 409; per-item and whole-request answers can be programmed; gzip bodies
 * are decoded; optional ApiKey/basic authentication; 413 over a body size.
 */
export class ElasticsearchPeer {
  /** Indexed documents: data stream -> _id -> document. */
  readonly indices = new Map<string, Map<string, Record<string, unknown>>>();
  readonly requests: { req: RecordedRequest; ops: BulkOp[] }[] = [];
  /** Programmed per-item answers by `_id`. */
  readonly itemAnswers = new Map<string, ItemAnswer[]>();
  /** Programmed whole-request answers, one per request, in order ('pass': handle normally). */
  readonly requestAnswers: (RequestAnswer | 'pass')[] = [];
  /** `_id`s that arrived again after this peer had answered them 201 or 409. */
  readonly resentAfterAck: string[] = [];
  private readonly acked = new Set<string>();

  private constructor(private readonly server: PeerServer, private readonly opts: ElasticsearchPeerOptions) {}

  static async start(opts: ElasticsearchPeerOptions = {}): Promise<ElasticsearchPeer> {
    const ref: { peer?: ElasticsearchPeer } = {};
    const server = await PeerServer.start((req, res) => { ref.peer?.handle(req, res); }, opts.tls);
    const peer = new ElasticsearchPeer(server, opts);
    ref.peer = peer;
    return peer;
  }

  get url(): string {
    return this.server.origin;
  }

  /** Every indexed document, in no particular order. */
  docs(): Record<string, unknown>[] {
    return [...this.indices.values()].flatMap((m) => [...m.values()]);
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private authorized(req: RecordedRequest): boolean {
    const got = req.headers.authorization;
    if (this.opts.apiKey !== undefined) return got === `ApiKey ${this.opts.apiKey}`;
    if (this.opts.basic !== undefined) {
      const { username, password } = this.opts.basic;
      return got === `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    return true;
  }

  private handle(req: RecordedRequest, res: ServerResponse): void {
    const path = req.path.split('?')[0] ?? '';
    if (req.method !== 'POST' || !path.endsWith('/_bulk')) {
      sendJson(res, 404, { error: { type: 'resource_not_found_exception', reason: `no handler for ${req.method} ${path}` }, status: 404 });
      return;
    }
    if (!this.authorized(req)) {
      sendJson(res, 401, {
        error: { type: 'security_exception', reason: 'unable to authenticate user for REST request [/_bulk]' }, status: 401,
      }, { 'www-authenticate': 'ApiKey, Basic realm="security"' });
      return;
    }
    if (this.opts.maxBodyBytes !== undefined && req.body.length > this.opts.maxBodyBytes) {
      this.requests.push({ req, ops: [] });
      sendJson(res, 413, { error: { type: 'content_too_long', reason: 'request entity too large' }, status: 413 });
      return;
    }
    const programmed = this.requestAnswers.shift();
    if (programmed !== undefined && programmed !== 'pass') {
      this.requests.push({ req, ops: [] });
      const headers: Record<string, string> = programmed.retryAfter === undefined ? {} : { 'retry-after': programmed.retryAfter };
      sendJson(res, programmed.status, programmed.body ?? { error: { type: 'es_rejected_execution_exception', reason: 'rejected' }, status: programmed.status }, headers);
      return;
    }
    let ops: BulkOp[];
    try {
      ops = this.parse(req.body.toString('utf8'));
    } catch (err) {
      sendJson(res, 400, { error: { type: 'illegal_argument_exception', reason: (err as Error).message }, status: 400 });
      return;
    }
    this.requests.push({ req, ops });
    const items = ops.map((op) => ({ [op.op]: this.apply(op) }));
    sendJson(res, 200, { took: 1, errors: ops.some((op) => op.status >= 300), items });
  }

  private parse(text: string): BulkOp[] {
    const lines = text.split('\n');
    if (lines.at(-1) !== '') throw new Error('The bulk request must be terminated by a newline [\\n]');
    const ops: BulkOp[] = [];
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const action = JSON.parse(lines[i] ?? '') as Record<string, { _index?: string; _id?: string }>;
      const [op, meta] = Object.entries(action)[0] ?? ['', {}];
      const doc = JSON.parse(lines[i + 1] ?? '') as Record<string, unknown>;
      ops.push({ op, index: meta._index ?? '', id: meta._id, doc, status: 0 });
    }
    return ops;
  }

  private apply(op: BulkOp): Record<string, unknown> {
    const base = { _index: op.index, _id: op.id };
    const fail = (status: number, type: string, reason: string) => {
      op.status = status;
      return { ...base, status, error: { type, reason } };
    };
    if (op.id !== undefined && this.acked.has(op.id)) this.resentAfterAck.push(op.id);
    const programmed = op.id === undefined ? undefined : this.itemAnswers.get(op.id)?.shift();
    if (programmed !== undefined) return fail(programmed.status, programmed.type ?? 'es_rejected_execution_exception', programmed.reason ?? 'rejected');
    if (op.index.startsWith('logs-') && op.op !== 'create') {
      return fail(400, 'illegal_argument_exception', `only write ops with an op_type of create are allowed in data streams`);
    }
    if (op.index.startsWith('logs-') && typeof op.doc['@timestamp'] !== 'string') {
      return fail(400, 'document_parsing_exception', 'data stream timestamp field [@timestamp] is missing');
    }
    const index = this.indices.get(op.index) ?? new Map<string, Record<string, unknown>>();
    this.indices.set(op.index, index);
    const id = op.id ?? `auto-${index.size}`;
    if (index.has(id)) {
      this.acked.add(id);
      return fail(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists`);
    }
    index.set(id, op.doc);
    this.acked.add(id);
    op.status = 201;
    return { ...base, _version: 1, result: 'created', status: 201 };
  }
}
