// Every format, over every transport, through the two syslog daemons SIEM pipelines put in front of
// them: rsyslog and syslog-ng. Each parses the message itself (RFC 5424 header and structured data,
// RFC 3164 header); CEF and LEEF bodies are read back from the daemon's raw message with parsers
// written from the specifications (testkit/siem-parsers.ts). Values carry what a hostile process
// name can hold; docs/syslog.md says what becomes of each character in each place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRsyslog } from '../../../testkit/peers/rsyslog.js';
import type { RsyslogPeer } from '../../../testkit/peers/rsyslog.js';
import { startSyslogNg } from '../../../testkit/peers/syslog-ng.js';
import type { SyslogNgPeer } from '../../../testkit/peers/syslog-ng.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import type { TestPki } from '../../../testkit/peers/pki.js';
import { parseCefExtension, parseCefHeader, parseLeef, shownControls } from '../../../testkit/siem-parsers.js';
import { makeSyslog, send } from './drive.js';
import { listenerEvent, outbound } from '../../../testkit/samples/syslog.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';

/** What both daemons' records are reduced to. */
interface Got {
  rawmsg: string;
  msg: string;
  host: string;
  app: string;
  procid: string;
  msgid: string;
  pri: string;
  time: string;
  sd: Record<string, Record<string, string>>;
}

interface Receiver {
  name: string;
  port(transport: Transport): number;
  records(): Promise<Got[]>;
}

const FORMATS = ['rfc5424', 'rfc3164', 'cef', 'leef'] as const;
type Format = (typeof FORMATS)[number];
const TRANSPORTS = ['udp', 'tcp', 'tcp-lf', 'tls'] as const;
type Transport = (typeof TRANSPORTS)[number];

// Backslash, `=`, `|`, `"`, `]`, CR, LF, TAB, ESC (a terminal title and clear-screen), BEL, DEL,
// C1 (NEL, CSI), non-ASCII, an astral character and a lone surrogate (not encodable as UTF-8).
const HOSTILE_NAME = 'n\\a=m|e"x]y\r\nz\tq\x1b]0;pw\x07\x1b[2J\x7f\u0085\u009bé😀\ud800end';
const HOSTILE_CMD = 'sh -c "printf \'a=b\\\\c|d\'\r\n\techo \x1b[31m\u0085 ]"\\';
const HOSTILE_MSG = 'Name|with\\pipe\r\nand\x1b[2J';

/** What a UTF-8 wire can carry of a JS string: a lone surrogate becomes U+FFFD. */
const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

function rsyslogReceiver(peer: RsyslogPeer): Receiver {
  return {
    name: 'rsyslog',
    port: (tr) => (tr === 'udp' ? peer.udpPort : tr === 'tls' ? peer.tlsPort : peer.tcpPort),
    records: async () => (await peer.records()).map((r) => ({
      rawmsg: r.rawmsg, msg: r.msg, host: r.hostname, app: r['app-name'], procid: r.procid, msgid: r.msgid,
      pri: r.pri, time: r.timereported, sd: r.sd === '' ? {} : JSON.parse(r.sd) as Got['sd'],
    })),
  };
}

function syslogNgReceiver(peer: SyslogNgPeer): Receiver {
  return {
    name: 'syslog-ng',
    port: (tr) => ({ udp: peer.udpPort, tls: peer.tlsPort, tcp: peer.tcpPort, 'tcp-lf': peer.lfPort })[tr],
    records: async () => (await peer.records()).map((r) => ({
      rawmsg: r.rawmsg, msg: r.msg, host: r.host, app: r.program, procid: r.pid, msgid: r.msgid, pri: r.pri,
      time: r.isodate.replace(/\+00:00$/, 'Z'), sd: r._SDATA ?? {},
    })),
  };
}

function hostileEvent(seq: number): EcsDocument {
  return { ...listenerEvent({ seq, name: HOSTILE_NAME, commandLine: HOSTILE_CMD }), message: HOSTILE_MSG };
}

/** What a receiver must show, per format. */
function check(format: Format, got: Got, doc: EcsDocument, json: string): void {
  assert.equal(got.pri, '134', 'local0.info');
  assert.equal(got.host, 'web-01.example.org');
  switch (format) {
    case 'rfc5424': {
      assert.deepEqual([got.app, got.procid, got.msgid], ['portwarden', '4242', 'listening_started']);
      assert.equal(got.time, '2026-11-27T13:05:01.123456Z');
      // PRI, VERSION 1, TIMESTAMP as RFC 3339 with the event's microseconds, in the message itself.
      assert.match(got.rawmsg, /^<134>1 2026-11-27T13:05:01\.123456Z web-01\.example\.org portwarden 4242 listening_started \[portwarden@32473 /);
      // MSG is the ECS JSON with no BOM; JSON escapes every control character and the lone surrogate.
      assert.ok(got.msg.startsWith('{'), 'no BOM before MSG');
      assert.equal(got.msg, json);
      assert.deepEqual(JSON.parse(got.msg), doc);
      const sd = got.sd['portwarden@32473'];
      // SD-PARAM values: `"` `\` `]` escaped per RFC 5424 and read back exactly; control characters
      // (C0, DEL, C1) become spaces; the lone surrogate U+FFFD.
      // eslint-disable-next-line no-control-regex -- the characters under test
      assert.equal(sd?.process, utf8(HOSTILE_NAME).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '));
      assert.equal(sd.event_id, doc.event.id);
      assert.equal(sd.executable, '/usr/bin/nc.openbsd');
      break;
    }
    case 'rfc3164':
      assert.deepEqual([got.app, got.procid], ['portwarden', '4242']);
      // rsyslog keeps the space after `TAG:` in msg (RFC 3164 CONTENT); the JSON is exact.
      assert.equal(got.msg.trimStart(), json);
      break;
    case 'cef': {
      const { fields, rest } = parseCefHeader(got.rawmsg.slice(got.rawmsg.indexOf('CEF:0|')));
      assert.deepEqual(fields, ['CEF:0', 'portwarden', 'portwarden', '0.1.0', 'listening_started', shownControls(HOSTILE_MSG, ''), '1']);
      const ext = parseCefExtension(rest);
      assert.equal(ext.get('dproc'), shownControls(utf8(HOSTILE_NAME), '\r\n'));
      assert.equal(ext.get('cs3'), shownControls(HOSTILE_CMD, '\r\n'));
      assert.equal(ext.get('msg'), shownControls(HOSTILE_MSG, '\r\n'));
      assert.equal(ext.get('externalId'), doc.event.id);
      assert.equal(ext.get('dpt'), '4444');
      break;
    }
    case 'leef': {
      const { header, attrs } = parseLeef(got.rawmsg.slice(got.rawmsg.indexOf('LEEF:2.0|')));
      assert.deepEqual(header, ['LEEF:2.0', 'portwarden', 'portwarden', '0.1.0', 'listening_started', 'x09']);
      assert.equal(attrs.get('process'), shownControls(utf8(HOSTILE_NAME), '\t\r\n'));
      assert.equal(attrs.get('commandLine'), shownControls(HOSTILE_CMD, '\t\r\n'));
      assert.equal(attrs.get('msg'), shownControls(HOSTILE_MSG, '\t\r\n'));
      assert.equal(attrs.get('eventId'), doc.event.id);
      assert.equal(attrs.get('devTime'), '2026-11-27T13:05:01.123Z');
      break;
    }
  }
}

let pki: TestPki;
let receivers: Receiver[] = [];
const disposers: (() => Promise<void>)[] = [];

test.before(async () => {
  pki = await makeTestPki();
  disposers.push(() => pki.dispose());
  const rs = await startRsyslog(pki);
  disposers.push(() => rs.dispose());
  const ng = await startSyslogNg(pki);
  disposers.push(() => ng.dispose());
  receivers = [rsyslogReceiver(rs), syslogNgReceiver(ng)];
});
test.after(async () => {
  for (const d of disposers.reverse()) await d();
});

let seq = 50_000;
for (const format of FORMATS) {
  test(`${format}: hostile values round trip through rsyslog and syslog-ng over UDP, TCP (octet counting, LF) and TLS`, async (t) => {
    for (const rx of receivers) {
      for (const transport of TRANSPORTS) {
        const doc = hostileEvent(++seq);
        const ev = outbound(doc);
        const out = await makeSyslog(t, {
          format, port: rx.port(transport), protocol: transport === 'tcp-lf' ? 'tcp' : transport,
          framing: transport === 'tcp-lf' ? 'lf' : 'octet-counting', tls: { ca: pki.ca, server_name: 'localhost' },
        });
        assert.deepEqual(await send(out, [ev]), { kind: 'ok' });
        await out.shutdown();
        const id = doc.event.id;
        const got = await waitForRecord(rx, id);
        await t.test(`${rx.name} over ${transport}`, () => { check(format, got, doc, ev.json); });
      }
    }
  });
}

test('rfc3164: over TCP a message beyond the RFC\'s 1024 bytes arrives whole; max_message_bytes: 1024 cuts it to 1024', async (t) => {
  for (const rx of receivers) {
    const big = outbound(listenerEvent({ seq: ++seq, commandLine: `java ${'-Dk=välue '.repeat(400)}` }));
    assert.ok(Buffer.byteLength(big.json) > 4000);
    const whole = await makeSyslog(t, { format: 'rfc3164', port: rx.port('tcp') });
    assert.deepEqual(await send(whole, [big]), { kind: 'ok' });
    const cutDoc = listenerEvent({ seq: ++seq, commandLine: `java ${'-Dk=välue '.repeat(400)}` });
    const strict = await makeSyslog(t, { format: 'rfc3164', port: rx.port('tcp'), max_message_bytes: 1024 });
    assert.deepEqual(await send(strict, [outbound(cutDoc)]), { kind: 'ok' });
    assert.equal(strict.stats().truncated, 1);
    assert.equal((await waitForRecord(rx, big.doc.event.id)).msg.trimStart(), big.json, `${rx.name}: the whole JSON`);
    assert.equal(Buffer.byteLength((await waitForRecord(rx, cutDoc.event.id)).rawmsg), 1024, `${rx.name}: cut to 1024 bytes`);
  }
});

async function waitForRecord(rx: Receiver, id: string): Promise<Got> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const g = (await rx.records()).find((r) => r.rawmsg.includes(id));
    if (g !== undefined) return g;
    if (Date.now() > deadline) throw new Error(`${rx.name} did not write event ${id}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
