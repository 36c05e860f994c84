import { createServer as createHttp } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One request as a peer saw it, body decoded (gzip undone). */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Bytes on the wire (compressed when gzipped). */
  wireBytes: number;
  body: Buffer;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void;

/** PEM key and certificate for an HTTPS peer. */
export interface PeerTls {
  key: Buffer;
  cert: Buffer;
}

/** A real node:http(s) server on 127.0.0.1, port chosen by the OS. */
export class PeerServer {
  private constructor(private readonly server: Server, readonly origin: string) {}

  static async start(handler: Handler, tls?: PeerTls): Promise<PeerServer> {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const wire = Buffer.concat(chunks);
        let body: Buffer;
        try {
          body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
        } catch {
          sendJson(res, 400, { error: 'body is not valid gzip' });
          return;
        }
        handler({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, wireBytes: wire.length, body }, res);
      });
    };
    const server: Server = tls === undefined ? createHttp(onRequest) : createHttps({ key: tls.key, cert: tls.cert }, onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => { resolve(); });
    });
    const port = (server.address() as AddressInfo).port;
    return new PeerServer(server, `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => { this.server.close(() => { resolve(); }); });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Splits concatenated JSON values (`{..}{..}` or `{..}\n{..}`), as HEC reads a batch. Throws at the index of a bad one. */
export function splitConcatenatedJson(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
    if (i >= text.length) break;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) { i++; break; }
      }
    }
    try {
      out.push(JSON.parse(text.slice(start, i)));
    } catch {
      throw new BadJsonAt(out.length);
    }
  }
  return out;
}

export class BadJsonAt extends Error {
  constructor(readonly index: number) {
    super(`bad JSON value at ${index}`);
  }
}
