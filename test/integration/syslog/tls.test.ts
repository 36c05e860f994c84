import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRsyslog } from '../../../testkit/peers/rsyslog.js';
import type { RsyslogPeer } from '../../../testkit/peers/rsyslog.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import type { TestPki } from '../../../testkit/peers/pki.js';
import { makeSyslog, pausedReason, send } from './drive.js';
import { listenerEvent, outbound } from '../../../testkit/samples/syslog.js';

let pki: TestPki;
let peer: RsyslogPeer;

test.before(async () => {
  pki = await makeTestPki();
  peer = await startRsyslog(pki);
});
test.after(async () => {
  await peer.dispose();
  await pki.dispose();
});

test('TLS with the wrong CA pauses with a clear reason, loses nothing, flows with the right CA', async (t) => {
  const batch = [1, 2, 3].map((seq) => outbound(listenerEvent({ seq: 9000 + seq })));
  const wrong = await makeSyslog(t, { protocol: 'tls', port: peer.tlsPort, app_name: 'wrong-ca', tls: { ca: pki.otherCa } });
  const r = await send(wrong, batch);
  assert.match(pausedReason(r), /certificate verify failed \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\): /);
  assert.match(pausedReason(r), new RegExp(`127\\.0\\.0\\.1:${peer.tlsPort}`));
  await wrong.shutdown();
  // The pipeline keeps the batch queued; after a restart with a correct config it goes through.
  const right = await makeSyslog(t, { protocol: 'tls', port: peer.tlsPort, app_name: 'right-ca', tls: { ca: pki.ca } });
  assert.deepEqual(await send(right, batch), { kind: 'ok' });
  const recs = await peer.waitFor((rs) => rs.filter((x) => x['app-name'] === 'right-ca').length >= 3);
  assert.equal(recs.filter((x) => x['app-name'] === 'wrong-ca').length, 0);
  assert.deepEqual(recs.filter((x) => x['app-name'] === 'right-ca').map((x) => x.msg), batch.map((e) => e.json));
});

test('TLS: a server name that the certificate does not carry pauses; the system store does not trust a test CA', async (t) => {
  const ev = [outbound(listenerEvent())];
  const badName = await makeSyslog(t, { protocol: 'tls', port: peer.tlsPort, tls: { ca: pki.ca, server_name: 'siem.example.org' } });
  const r1 = await send(badName, ev);
  assert.match(pausedReason(r1), /ERR_TLS_CERT_ALTNAME_INVALID/);
  const noCa = await makeSyslog(t, { protocol: 'tls', port: peer.tlsPort });
  const r2 = await send(noCa, ev);
  assert.match(pausedReason(r2), /certificate verify failed/);
  const missing = await makeSyslog(t, { protocol: 'tls', port: peer.tlsPort, tls: { ca: `${pki.dir}/nope.pem` } });
  const r3 = await send(missing, ev);
  assert.match(pausedReason(r3), /tls\.ca: cannot read .*nope\.pem/);
});

test('mutual TLS: with the client certificate events arrive; without it nothing is acknowledged', async (t) => {
  const withCert = await makeSyslog(t, {
    protocol: 'tls', port: peer.mtlsPort, app_name: 'mtls-ok',
    tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, server_name: 'localhost' },
  });
  assert.deepEqual(await send(withCert, [outbound(listenerEvent({ seq: 7001 }))]), { kind: 'ok' });
  const recs = await peer.waitFor((rs) => rs.some((x) => x['app-name'] === 'mtls-ok'));
  assert.equal(recs.find((x) => x['app-name'] === 'mtls-ok')?.via, 'mtls');

  const noCert = await makeSyslog(t, { protocol: 'tls', port: peer.mtlsPort, app_name: 'mtls-none', tls: { ca: pki.ca } });
  // In TLS 1.3 the server refuses the client after the client's handshake is done: the transport
  // waits for the server's verdict, so nothing is acknowledged and the reason says why.
  for (let i = 0; i < 3; i++) {
    assert.match(pausedReason(await send(noCert, [outbound(listenerEvent({ seq: 7100 + i }))])), /CERTIFICATE_REQUIRED/);
  }
  assert.equal((await peer.records()).filter((x) => x['app-name'] === 'mtls-none').length, 0);
});
