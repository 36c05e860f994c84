import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRsyslog } from '../../../testkit/peers/rsyslog.js';
import type { RsyslogRecord } from '../../../testkit/peers/rsyslog.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import { makeSyslog, send } from './drive.js';
import { alertEvent, listenerEvent, outbound } from '../../../testkit/samples/syslog.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';

const FORMATS = ['rfc5424', 'rfc3164', 'cef', 'leef'] as const;
const TRANSPORTS = [
  { protocol: 'udp', framing: 'octet-counting' }, { protocol: 'tcp', framing: 'octet-counting' },
  { protocol: 'tcp', framing: 'lf' }, { protocol: 'tls', framing: 'octet-counting' },
] as const;

function check(format: (typeof FORMATS)[number], rec: RsyslogRecord, doc: EcsDocument, appName: string): void {
  const id = doc.event.id;
  assert.equal(rec.hostname, 'web-01.example.org');
  assert.equal(rec.facility, '16');
  switch (format) {
    case 'rfc5424': {
      assert.equal(rec['protocol-version'], '1');
      assert.deepEqual([rec['app-name'], rec.procid, rec.msgid], [appName, '4242', doc.event.action]);
      assert.equal(rec.timereported, '2026-11-27T13:05:01.123456Z');
      const sd = (JSON.parse(rec.sd) as Record<string, Record<string, string>>)['portwarden@32473'];
      assert.equal(sd?.event_id, id);
      assert.equal(sd.process, 'nc');
      assert.equal(sd.port, '4444');
      assert.deepEqual(JSON.parse(rec.msg), doc);
      break;
    }
    case 'rfc3164':
      assert.equal(rec['protocol-version'], '0');
      assert.equal(rec.syslogtag, `${appName}[4242]:`);
      assert.deepEqual(JSON.parse(rec.msg), doc);
      break;
    case 'cef':
      assert.ok(rec.rawmsg.includes(`CEF:0|portwarden|portwarden|0.1.0|`), rec.rawmsg);
      assert.ok(rec.rawmsg.includes(` externalId=${id} `) && rec.rawmsg.includes(' dpt=4444 '), rec.rawmsg);
      break;
    case 'leef':
      assert.ok(rec.rawmsg.includes('LEEF:2.0|portwarden|portwarden|0.1.0|'), rec.rawmsg);
      assert.ok(rec.rawmsg.includes(`\teventId=${id}\t`) && rec.rawmsg.includes('\tdstPort=4444\t'), rec.rawmsg);
      break;
  }
}

test('every format over every protocol is parsed by rsyslog as sent', async (t) => {
  const pki = await makeTestPki();
  t.after(() => pki.dispose());
  const peer = await startRsyslog(pki);
  t.after(() => peer.dispose());
  const expected: { format: (typeof FORMATS)[number]; via: string; docs: EcsDocument[]; app: string }[] = [];
  let seq = 100;
  for (const tr of TRANSPORTS) {
    for (const format of FORMATS) {
      const app = `pw-${format}-${tr.protocol}-${tr.framing}`;
      const port = tr.protocol === 'udp' ? peer.udpPort : tr.protocol === 'tcp' ? peer.tcpPort : peer.tlsPort;
      const out = await makeSyslog(t, {
        ...tr, format, port, app_name: app, tls: { ca: pki.ca, server_name: 'localhost' },
      });
      const alert = alertEvent(73);
      alert.event.id = `alert-${++seq}`;
      const docs = [listenerEvent({ seq: ++seq }), alert];
      assert.deepEqual(await send(out, docs.map(outbound)), { kind: 'ok' }, app);
      expected.push({ format, via: tr.protocol, docs, app });
    }
  }
  const recs = await peer.waitFor((r) => r.length >= expected.length * 2);
  for (const e of expected) {
    for (const doc of e.docs) {
      const rec = recs.find((r) => r.via === e.via && r.rawmsg.includes(doc.event.id));
      assert.ok(rec, `${e.app}: ${doc.event.id} arrived`);
      check(e.format, rec, doc, e.app);
      assert.equal(rec.severity, doc.event.kind === 'alert' ? '3' : '6', `${e.app} severity`);
    }
  }
  assert.equal(recs.length, expected.length * 2, 'nothing else arrived (no split or merged frames)');
});
