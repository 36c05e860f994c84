import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRsyslog } from '../../../testkit/peers/rsyslog.js';
import type { RsyslogPeer } from '../../../testkit/peers/rsyslog.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import { makeSyslog, sendUntilOk } from './drive.js';
import type { SyslogTransport } from '../../../transports/syslog/index.js';
import type { SendResult } from '../../../transports/types.js';
import { listenerEvent, outbound } from '../../../testkit/samples/syslog.js';
import { waitFor } from '../../helpers/wait.js';

/** The acceptance asks for 30 s; PW_SYSLOG_OUTAGE_MS shortens it for quick local runs. */
const OUTAGE_MS = Number(process.env.PW_SYSLOG_OUTAGE_MS ?? 30_000);
const BATCHES = 150;
const BATCH = 10;

interface Stream { delivered: number; failures: SendResult[]; done: Promise<void> }

/** Sends BATCHES batches paced a few ms apart, each retried until ok, as the pipeline would. */
function stream(tr: SyslogTransport, base: number): Stream {
  const s: Stream = { delivered: 0, failures: [], done: Promise.resolve() };
  s.done = (async () => {
    for (let b = 0; b < BATCHES; b++) {
      const batch = Array.from({ length: BATCH }, (_, i) => outbound(listenerEvent({ seq: base + b * BATCH + i })));
      s.failures.push(...await sendUntilOk(tr, batch, OUTAGE_MS + 60_000, 250));
      s.delivered += BATCH;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return s;
}

test(`rsyslog stopped for ${OUTAGE_MS / 1000} s mid-stream over TCP and TLS: every event arrives`, async (t) => {
  const pki = await makeTestPki();
  t.after(() => pki.dispose());
  const peer: RsyslogPeer = await startRsyslog(pki);
  t.after(() => peer.dispose());
  const tcp = await makeSyslog(t, { port: peer.tcpPort, app_name: 'restart-tcp' });
  const tls = await makeSyslog(t, { protocol: 'tls', port: peer.tlsPort, app_name: 'restart-tls', tls: { ca: pki.ca, server_name: 'localhost' } });
  const streams = { tcp: stream(tcp, 1_000_000), tls: stream(tls, 2_000_000) };
  const third = (BATCHES * BATCH) / 3;
  await waitFor('a third of each stream', () => streams.tcp.delivered >= third && streams.tls.delivered >= third, 60_000);
  await peer.stop();
  const stoppedAt = Date.now();
  await waitFor('the outage to pass', () => Date.now() - stoppedAt >= OUTAGE_MS, OUTAGE_MS + 5000);
  const duringOutage = { tcp: streams.tcp.delivered, tls: streams.tls.delivered };
  await peer.start();
  await Promise.all([streams.tcp.done, streams.tls.done]);

  const total = BATCHES * BATCH;
  const recs = await peer.waitFor((r) => ['restart-tcp', 'restart-tls'].every((app) => new Set(r.filter((x) => x['app-name'] === app)
      .map((x) => (JSON.parse(x.msg) as { event: { id: string } }).event.id)).size >= total), 30_000);
  for (const [via, tr] of [['tcp', tcp], ['tls', tls]] as const) {
    const mine = recs.filter((x) => x['app-name'] === `restart-${via}`).map((x) => (JSON.parse(x.msg) as { event: { id: string } }).event.id);
    const unique = new Set(mine);
    const st = tr.stats();
    const refused = streams[via].failures.filter((f) => f.kind === 'retryable' && /ECONNREFUSED/.test(f.reason)).length;
    t.diagnostic(`${via}: ${unique.size} unique of ${total}, ${mine.length - unique.size} duplicates, resent ${st.resent}, `
      + `reconnects ${st.reconnects}, ${streams[via].failures.length} failed attempts (${refused} refused), `
      + `${duringOutage[via]} delivered before the restart`);
    assert.equal(unique.size, total, `${via}: every event arrived`);
    assert.ok(refused > 0, `${via}: the outage was seen as connection refused`);
    assert.ok(st.reconnects >= 1, `${via}: reconnected`);
    assert.ok(duringOutage[via] < total, `${via}: the outage happened mid-stream`);
    // Duplicates come only from the re-sent window and from batches retried after a failed write.
    assert.ok(mine.length - unique.size <= st.resent + streams[via].failures.length * BATCH, `${via}: duplicates accounted for`);
  }
});
