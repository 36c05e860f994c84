import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCef, escapeCefHeader, escapeCefValue } from '../../../../transports/syslog/encoder-cef.js';
import { encodeLeef, escapeLeefValue } from '../../../../transports/syslog/encoder-leef.js';
import { encodeRfc3164 } from '../../../../transports/syslog/encoder-rfc3164.js';
import type { EncodeContext } from '../../../../transports/syslog/encoder-common.js';
import { alertEvent, listenerEvent } from '../../../../testkit/samples/syslog.js';

const ctx: EncodeContext = { facility: 16, appName: 'portwarden', sdId: 'x@1', procId: 4242, hostName: 'fb' };
const BSD = /^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) (.*)$/s;

test('cef: header, severity, extension mapping with labels', () => {
  const m = BSD.exec(encodeCef(ctx, alertEvent(73)));
  assert.ok(m);
  assert.equal(m[1], '131');
  assert.equal(m[3], 'web-01.example.org');
  const [cef, ...rest] = (m[4] ?? '').split('|');
  assert.equal(cef, 'CEF:0');
  assert.deepEqual(rest.slice(0, 6), ['portwarden', 'portwarden', '0.1.0', 'PW-L-003', 'Shell-like program "nc" listening on all interfaces', '7']);
  const ext = rest.slice(6).join('|');
  for (const kv of ['rt=1795784701123', 'proto=TCP', 'dst=0.0.0.0', 'dpt=4444', 'dproc=nc', 'dpid=31337', 'duser=alice',
    'sproc=bash', 'spid=1200', 'cs1=PW-L-003', 'cs1Label=rule_id', 'cs3=nc -lvnp 4444', 'cs3Label=command_line', 'cn1=73', 'dvcpid=4242']) {
    assert.ok(ext.includes(kv), `${kv} in ${ext}`);
  }
});

test('cef: escaping per the spec; IPv6 goes to c6a3', () => {
  assert.equal(escapeCefHeader('a|b\\c\nd'), 'a\\|b\\\\c\\\\nd');
  assert.equal(escapeCefValue('k=v\\x\r\ny\rz|ok'), 'k\\=v\\\\x\\r\\ny\\rz|ok');
  const line = encodeCef(ctx, listenerEvent({ ip: '::', commandLine: 'sh -c "a=1\nb"' }));
  assert.ok(line.includes('c6a3=:: c6a3Label=Destination IPv6 Address'));
  assert.ok(line.includes('cs3=sh -c "a\\=1\\nb"'));
  assert.ok(!line.includes('\n'));
  assert.ok(line.includes('|1|'), 'ordinary events have CEF severity 1');
});

test('leef 2.0: header with x09 delimiter, tab-separated attributes, escaped breaks', () => {
  const m = BSD.exec(encodeLeef(ctx, listenerEvent({ commandLine: 'a\tb\nc' })));
  assert.ok(m);
  const body = m[4] ?? '';
  assert.ok(body.startsWith('LEEF:2.0|portwarden|portwarden|0.1.0|listening_started|x09|'), body);
  const attrs = body.split('|').slice(6).join('|').split('\t');
  assert.ok(attrs.includes('devTime=2026-11-27T13:05:01.123Z'));
  assert.ok(attrs.includes('dst=0.0.0.0') && attrs.includes('dstPort=4444') && attrs.includes('usrName=alice'));
  assert.ok(attrs.includes('commandLine=a\\tb\\nc'));
  assert.ok(attrs.includes('sev=1'));
  assert.equal(escapeLeefValue('x\r\ny'), 'x\\r\\ny');
});

test('rfc3164: <PRI>Mmm dd hh:mm:ss HOST TAG[pid]: JSON', () => {
  const doc = listenerEvent();
  const m = BSD.exec(encodeRfc3164(ctx, doc, '{"a":1}'));
  assert.ok(m);
  assert.equal(m[1], '134');
  assert.equal(m[4], 'portwarden[4242]: {"a":1}');
});
