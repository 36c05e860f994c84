import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRfc5424, escapeSdValue } from '../../../../transports/syslog/encoder-rfc5424.js';
import { rfc3339, syslogSeverity } from '../../../../transports/syslog/encoder-common.js';
import type { EncodeContext } from '../../../../transports/syslog/encoder-common.js';
import { alertEvent, listenerEvent } from '../../../../testkit/samples/syslog.js';

const ctx: EncodeContext = { facility: 16, appName: 'portwarden', sdId: 'portwarden@32473', procId: 4242, hostName: 'fallback' };
const HEADER = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*?[^\\]\]) (.*)$/s;

test('rfc5424: header fields, one SD element, MSG is the ECS JSON', () => {
  const doc = listenerEvent();
  const json = JSON.stringify(doc);
  const m = HEADER.exec(encodeRfc5424(ctx, doc, json));
  assert.ok(m, 'message matches the RFC 5424 shape');
  assert.deepEqual(m.slice(1, 7), ['134', '2026-11-27T13:05:01.123456Z', 'web-01.example.org', 'portwarden', '4242', 'listening_started']);
  assert.equal(m[7], '[portwarden@32473 action="listening_started" dataset="portwarden.network" kind="event" '
    + 'event_id="0193c5a0-0000-7000-8000-000000000001" transport="tcp" ip="0.0.0.0" port="4444" scope="any" pid="31337" '
    + 'process="nc" executable="/usr/bin/nc.openbsd" ppid="1200" parent="bash" user="alice"]');
  assert.equal(m[8], json);
});

test('rfc5424: alerts carry severity from event.severity and the rule in SD', () => {
  const line = encodeRfc5424(ctx, alertEvent(99), '{}');
  assert.match(line, /^<130>1 /); // local0 (16) * 8 + crit (2)
  assert.match(line, / rule_id="PW-L-003" rule_name="Network utility listening" severity="99" risk_score="73" technique="T1059"\]/);
  assert.deepEqual([99, 73, 47, 21].map((s) => syslogSeverity(alertEvent(s))), [2, 3, 4, 5]);
  assert.equal(syslogSeverity(listenerEvent()), 6);
});

test('rfc5424: SD values escape " \\ ] and flatten control characters', () => {
  assert.equal(escapeSdValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  assert.equal(escapeSdValue('x\ny\tz'), 'x y z');
  const line = encodeRfc5424(ctx, listenerEvent({ name: 'ev"il]\\name' }), '{}');
  assert.ok(line.includes(' process="ev\\"il\\]\\\\name" '));
});

test('rfc5424: header fields are printable ASCII cut to the RFC limits; missing host falls back', () => {
  const doc = listenerEvent();
  (doc.host as Record<string, unknown>).name = `h${'x'.repeat(300)}`;
  doc.event.action = `a${'y'.repeat(40)} é`;
  const m = HEADER.exec(encodeRfc5424({ ...ctx, appName: 'p'.repeat(60) }, doc, '{}'));
  assert.ok(m);
  assert.equal(m[3]?.length, 255);
  assert.equal(m[4]?.length, 48);
  assert.equal(m[6]?.length, 32);
  delete (doc as Record<string, unknown>).host;
  doc.event.action = 'a b';
  assert.match(encodeRfc5424(ctx, doc, '{}'), /^<134>1 \S+ fallback portwarden 4242 a_b \[/);
});

test('rfc3339 keeps 3-6 fraction digits', () => {
  assert.equal(rfc3339('2026-11-27T13:05:01Z'), '2026-11-27T13:05:01.000Z');
  assert.equal(rfc3339('2026-11-27T13:05:01.123456789+02:00'), '2026-11-27T13:05:01.123456+02:00');
  const now = new Date('2020-01-01T00:00:00.5Z');
  assert.equal(rfc3339('yesterday', () => now), '2020-01-01T00:00:00.500Z');
});
