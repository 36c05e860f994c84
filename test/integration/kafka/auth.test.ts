import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { memoryLogger } from '../../../agent/log/logger.js';
import { MockCluster } from '../../../testkit/peers/kafka-mock-cluster.js';
import { kafkaOutput } from './drive.js';
import { listenerEvent, outbound } from '../../../testkit/samples/kafka.js';

const run = promisify(execFile);

// The mock cluster speaks neither SASL nor TLS, which makes it a real peer for the "our security
// settings cannot work against this listener" failures: they must pause the output, not retry forever.

test('SASL against a listener without SASL pauses the output and never logs the password', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-sasl'], brokers: 1 });
  t.after(() => cluster.close());
  const logger = memoryLogger();
  const out = kafkaOutput({
    brokers: cluster.bootstrap, topic: 'siem-sasl', timeout: '3s',
    sasl: { mechanism: 'scram-sha-512', username: 'portwarden', password: 'pw-Very-Secret-42' },
  }, logger);
  t.after(() => out.shutdown());
  await out.start();
  const r = await out.send([outbound(listenerEvent())], new AbortController().signal);
  assert.equal(r.kind, 'paused', JSON.stringify(r));
  assert.equal(out.health(), 'paused');
  assert.ok(logger.records.some((x) => x.level === 'error' && x.message.startsWith('kafka output paused')));
  assert.ok(logger.records.some((x) => x.message.includes('SASL without tls')));
  assert.ok(!JSON.stringify(logger.records).includes('pw-Very-Secret-42'));
  assert.ok(!JSON.stringify(r).includes('pw-Very-Secret-42'));
  assert.equal(cluster.messages.length, 0);
});

/** A TLS listener on 127.0.0.1 with a fresh self-signed certificate; counts the bytes it decrypts. */
async function tlsListener(t: TestContext): Promise<{ port: number; certFile: string; received: () => number }> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-kafka-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key,
    '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  let bytes = 0;
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer({ cert: await readFile(cert), key: await readFile(key) }, (s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => { bytes += d.length; });
    s.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => {
    server.close(r);
    for (const s of sockets) s.destroy();
  }));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr !== null ? addr.port : 0, certFile: cert, received: () => bytes };
}

test('an untrusted broker certificate pauses the output with a TLS reason; trusting its CA lets Kafka requests through', async (t) => {
  const broker = await tlsListener(t);
  const untrusted = kafkaOutput({ brokers: [`127.0.0.1:${String(broker.port)}`], topic: 'siem-tls', timeout: '2s', tls: {} });
  t.after(() => untrusted.shutdown());
  const r = await untrusted.send([outbound(listenerEvent())], new AbortController().signal);
  assert.equal(r.kind, 'paused', JSON.stringify(r));
  assert.match((r as { reason: string }).reason, /^tls \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  assert.equal(broker.received(), 0);

  const trusted = kafkaOutput({ brokers: [`127.0.0.1:${String(broker.port)}`], topic: 'siem-tls', timeout: '1s', tls: { ca: broker.certFile } });
  t.after(() => trusted.shutdown());
  // The listener is no Kafka broker, so the send times out, but only after the handshake succeeded
  // and the client's first request (ApiVersions) arrived encrypted.
  const r2 = await trusted.send([outbound(listenerEvent())], new AbortController().signal);
  assert.equal(r2.kind, 'retryable');
  assert.ok(broker.received() > 0, 'a Kafka request arrived over TLS');
});
