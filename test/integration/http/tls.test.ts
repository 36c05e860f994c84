import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElasticsearchPeer } from './peers/elasticsearch-peer.js';
import { makeEvents, makeHttp, reasonOf } from './support.js';

function selfSigned(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { key, cert };
}

test('https: the configured CA verifies the peer; an unknown CA, a wrong name or an unreadable file pause', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-http-tls-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const files = selfSigned(dir);
  const peer = await ElasticsearchPeer.start({ tls: { key: readFileSync(files.key), cert: readFileSync(files.cert) } });
  t.after(() => peer.close());
  const send = async (cfg: Record<string, unknown>) => {
    const { transport } = makeHttp({ url: peer.url, format: 'elasticsearch', ...cfg });
    t.after(() => transport.shutdown());
    return transport.send(makeEvents(2), new AbortController().signal);
  };

  assert.deepEqual(await send({ tls: { ca: files.cert } }), { kind: 'ok' });
  assert.equal(peer.docs().length, 2);

  const untrusted = await send({});
  assert.equal(untrusted.kind, 'paused');
  assert.match(reasonOf(untrusted), /certificate verify failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);

  const wrongName = await send({ tls: { ca: files.cert, server_name: 'elastic.example.org' } });
  assert.equal(wrongName.kind, 'paused');
  assert.match(reasonOf(wrongName), /ERR_TLS_CERT_ALTNAME_INVALID/);

  const missing = await send({ tls: { ca: join(dir, 'absent.pem') } });
  assert.equal(missing.kind, 'paused');
  assert.match(reasonOf(missing), /tls\.ca: cannot read/);
  assert.equal(peer.docs().length, 2, 'nothing was sent over an unverified connection');
});
