import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { UdpSender } from '../../../../transports/syslog/sender-udp.js';
import type { SendResult } from '../../../../transports/types.js';

function sender(port: number) {
  return new UdpSender({
    protocol: 'udp', host: '127.0.0.1', port, tls: { reject_unauthorized: true },
    connectTimeoutMs: 1000, keepaliveMs: 0, resendWindowMs: 0, resendWindowBytes: 0,
  });
}

test('udp: one datagram per frame, in order, to a real socket', async (t) => {
  const server = createSocket('udp4');
  const got: string[] = [];
  server.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  const s = sender(server.address().port);
  t.after(() => s.close());
  const frames = ['one', 'two', 'three'].map((x) => Buffer.from(x));
  assert.deepEqual(await s.write(frames, AbortSignal.timeout(2000)), { kind: 'ok' });
  const deadline = Date.now() + 5000;
  while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, ['one', 'two', 'three']);
  assert.equal(s.stats().connected, true);
});

test('udp: a port nobody listens on turns into retryable ECONNREFUSED (ICMP) instead of silent loss', async (t) => {
  const probe = createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise<void>((r) => { probe.close(() => { r(); }); });
  const s = sender(port);
  t.after(() => s.close());
  let r: SendResult = { kind: 'ok' };
  const deadline = Date.now() + 5000;
  while (r.kind === 'ok' && Date.now() < deadline) {
    r = await s.write([Buffer.from('x')], AbortSignal.timeout(2000));
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.match(JSON.stringify(r), /"kind":"retryable","reason":"send to 127\.0\.0\.1:\d+ \(udp\): .*ECONNREFUSED/);
});
