import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { truncateUtf8 } from '../../../../transports/syslog/encoder-common.js';
import { encodeFrame } from '../../../../transports/syslog/encoder.js';
import { syslogConfigSchema } from '../../../../transports/syslog/config.js';
import { effective } from '../../../../transports/syslog/effective.js';
import { listenerEvent, outbound } from '../../../../testkit/samples/syslog.js';

const ctx = { facility: 16, appName: 'portwarden', sdId: 'portwarden@32473', procId: 1, hostName: 'h' };

test('truncateUtf8 never splits a character and never cuts more than a character', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.nat(400), (s, max) => {
    const buf = Buffer.from(s, 'utf8');
    const cut = truncateUtf8(buf, max);
    assert.ok(cut.length <= Math.max(max, 0) || buf.length <= max);
    assert.ok(buf.subarray(0, cut.length).equals(cut));
    assert.equal(Buffer.from(cut.toString('utf8'), 'utf8').length, cut.length, 'valid UTF-8');
    if (buf.length > max) assert.ok(max - cut.length < 4);
  }));
});

test('octet-counting frame: LEN is the byte length of the message', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (name) => {
    const f = encodeFrame('rfc5424', 'octet-counting', ctx, outbound(listenerEvent({ name })), 1 << 20);
    const sp = f.bytes.indexOf(0x20);
    assert.equal(Number(f.bytes.subarray(0, sp).toString()), f.bytes.length - sp - 1);
  }));
});

test('lf frame has exactly one LF, at the end; datagram is cut to the cap', () => {
  const ev = outbound(listenerEvent({ commandLine: 'a\nb' }));
  for (const format of ['rfc5424', 'rfc3164', 'cef', 'leef'] as const) {
    const f = encodeFrame(format, 'lf', ctx, ev, 1 << 20);
    assert.equal(f.bytes.indexOf(0x0a), f.bytes.length - 1, format);
  }
  const big = outbound(listenerEvent({ commandLine: 'é'.repeat(3000) }));
  const d = encodeFrame('rfc5424', 'datagram', ctx, big, 2048);
  assert.ok(d.truncated && d.bytes.length <= 2048 && d.bytes.length >= 2047);
});

test('config: documented defaults, unknown keys and bad SD-IDs rejected', () => {
  const cfg = syslogConfigSchema.parse({ type: 'syslog', host: 'siem.example.org' });
  assert.equal(cfg.protocol, 'tcp');
  assert.equal(cfg.format, 'rfc5424');
  assert.equal(cfg.framing, 'octet-counting');
  assert.equal(cfg.facility, 'local0');
  assert.equal(cfg.app_name, 'portwarden');
  assert.equal(cfg.tls.reject_unauthorized, true);
  assert.deepEqual(effective(cfg), { port: 514, maxBytes: 262144, facility: 16 });
  const udp = syslogConfigSchema.parse({ type: 'syslog', host: 'h', protocol: 'udp', max_message_bytes: '1MiB' });
  assert.equal(effective(udp).maxBytes, 65507);
  assert.equal(effective(syslogConfigSchema.parse({ type: 'syslog', host: 'h', protocol: 'tls' })).port, 6514);
  assert.equal(syslogConfigSchema.safeParse({ type: 'syslog', host: 'h', colour: 1 }).success, false);
  assert.equal(syslogConfigSchema.safeParse({ type: 'syslog', host: 'h', sd_id: 'bad id' }).success, false);
  assert.equal(syslogConfigSchema.safeParse({ type: 'syslog', host: 'h', tls: { cert: 'c.pem' } }).success, false);
});

test('config: the syslog type is registered once and every key documents itself', async () => {
  const { transportRegistry } = await import('../../../../transports/registry.js');
  assert.equal(transportRegistry.names().filter((t) => t === 'syslog').length, 1);
  for (const [key, schema] of Object.entries(syslogConfigSchema.shape)) {
    if (key === 'type') continue;
    assert.ok((schema.description ?? '').length > 10, `${key} has a description`);
  }
});
