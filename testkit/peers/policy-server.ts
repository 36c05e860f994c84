import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestPki } from './pki.js';

/**
 * A static HTTPS file server as an object store or nginx would be for a policy bundle: one path,
 * a strong ETag (the content's SHA-256), 304 for a matching If-None-Match, 404 before anything is
 * published. Certificates from the test PKI; port from the OS.
 */
export interface PolicyServer {
  url: string;
  /** Replaces what the server answers from now on. */
  publish(body: Buffer): void;
  /** Requests answered, by status. */
  counts: Record<number, number>;
  /** Request headers of the last request. */
  lastHeaders(): Record<string, string | string[] | undefined>;
  close(): Promise<void>;
}

export async function startPolicyServer(pki: TestPki, path = '/fleet/policy.json', port = 0): Promise<PolicyServer> {
  let body: Buffer | undefined;
  let etag = '';
  const counts: Record<number, number> = {};
  let last: Record<string, string | string[] | undefined> = {};
  const server: Server = createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
    last = { ...req.headers };
    const answer = (status: number, headers: Record<string, string> = {}, data?: Buffer): void => {
      counts[status] = (counts[status] ?? 0) + 1;
      res.writeHead(status, headers);
      res.end(data);
    };
    if (req.url !== path || body === undefined) { answer(404); return; }
    if (req.headers['if-none-match'] === etag) { answer(304, { etag }); return; }
    answer(200, { 'content-type': 'application/json', etag, 'content-length': String(body.length) }, body);
  });
  await new Promise<void>((resolve) => { server.listen(port, '127.0.0.1', resolve); });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${bound}${path}`,
    publish(b) {
      body = b;
      etag = `"${createHash('sha256').update(b).digest('hex')}"`;
    },
    counts,
    lastHeaders: () => last,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => { resolve(); });
    }),
  };
}
