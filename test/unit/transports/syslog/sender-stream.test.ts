import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { StreamSender } from '../../../../transports/syslog/sender-stream.js';
import { waitFor } from '../../../helpers/wait.js';

/** A real TCP server on loopback that records what it receives and can drop its connections. */
async function server(t: TestContext) {
  const sockets = new Set<Socket>();
  const state = { received: '' };
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => { state.received += d.toString(); });
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => { r(); }); }));
  const addr = srv.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    state,
    dropAll: () => { for (const s of sockets) s.destroy(); },
    stall: () => { for (const s of sockets) s.pause(); },
  };
}

const frames = (...names: string[]) => names.map((n) => Buffer.from(`${n};`));
const signal = () => AbortSignal.timeout(5000);

function sender(port: number, clock: { now: number }, over: { windowBytes?: number } = {}) {
  return new StreamSender({
    protocol: 'tcp', host: '127.0.0.1', port, tls: { reject_unauthorized: true }, connectTimeoutMs: 2000,
    keepaliveMs: 1000, resendWindowMs: 5000, resendWindowBytes: over.windowBytes ?? 1 << 20,
  }, () => clock.now);
}

test('frames written shortly before a lost connection are re-sent first on the next one', async (t) => {
  const srv = await server(t);
  const clock = { now: 1000 };
  const s = sender(srv.port, clock);
  t.after(() => s.close());
  assert.deepEqual(await s.write(frames('a1', 'a2'), signal()), { kind: 'ok' });
  await waitFor('the condition', () => srv.state.received === 'a1;a2;');
  srv.dropAll();
  await waitFor('the condition', () => !s.stats().connected);
  clock.now += 1000;
  assert.deepEqual(await s.write(frames('b1'), signal()), { kind: 'ok' });
  await waitFor('the condition', () => srv.state.received.endsWith('b1;'));
  assert.equal(srv.state.received, 'a1;a2;a1;a2;b1;');
  assert.deepEqual(s.stats(), { reconnects: 1, resent: 2, connected: true });
});

test('frames confirmed by a connection that stayed up are not re-sent', async (t) => {
  const srv = await server(t);
  const clock = { now: 1000 };
  const s = sender(srv.port, clock);
  t.after(() => s.close());
  await s.write(frames('old'), signal());
  clock.now += 6000; // the connection outlived the 5 s window: "old" is confirmed
  await s.write(frames('recent'), signal());
  await waitFor('the condition', () => srv.state.received === 'old;recent;');
  srv.dropAll();
  await waitFor('the condition', () => !s.stats().connected);
  assert.deepEqual(await s.write(frames('new'), signal()), { kind: 'ok' });
  await waitFor('the condition', () => srv.state.received.endsWith('new;'));
  assert.equal(srv.state.received, 'old;recent;recent;new;');
});

test('right after a replay a full window holds new batches back instead of dropping frames', async (t) => {
  const srv = await server(t);
  const clock = { now: 1000 };
  const s = sender(srv.port, clock, { windowBytes: 12 });
  t.after(() => s.close());
  await s.write(frames('aaaa', 'bbbb'), signal()); // 10 bytes unconfirmed
  await waitFor('the condition', () => srv.state.received === 'aaaa;bbbb;');
  srv.dropAll();
  await waitFor('the condition', () => !s.stats().connected);
  const r = await s.write(frames('cccc'), signal()); // 10 + 5 > 12: replay only, this batch waits
  assert.match(JSON.stringify(r), /"kind":"retryable","reason":".*not yet confirmed/);
  await waitFor('the condition', () => srv.state.received === 'aaaa;bbbb;aaaa;bbbb;');
  clock.now += 6000;
  assert.deepEqual(await s.write(frames('cccc'), signal()), { kind: 'ok' });
  await waitFor('the condition', () => srv.state.received.endsWith('cccc;'));
  assert.equal(srv.state.received, 'aaaa;bbbb;aaaa;bbbb;cccc;');
});

test('connection refused is retryable and names the peer; close is idempotent', async (t) => {
  const srv = await server(t);
  const s = sender(srv.port, { now: 0 });
  assert.deepEqual(await s.write(frames('w'), signal()), { kind: 'ok' });
  const closed = sender(1, { now: 0 });
  const r = await closed.write(frames('x'), signal());
  assert.match(JSON.stringify(r), /"kind":"retryable","reason":"connect to 127\.0\.0\.1:1 \(tcp\): .*ECONNREFUSED/);
  await s.close();
  await s.close();
  assert.equal((await s.write(frames('y'), signal())).kind, 'retryable');
});

test('shutdown is bounded while a write is stuck and never acknowledges it', async (t) => {
  const srv = await server(t);
  const s = sender(srv.port, { now: 0 });
  assert.deepEqual(await s.write(frames('hello'), signal()), { kind: 'ok' });
  await waitFor('the condition', () => srv.state.received === 'hello;');
  srv.stall(); // a peer that reads nothing more: 64 MiB cannot fit in the socket buffers
  const stuck = s.write([Buffer.alloc(64 * 1024 * 1024, 0x61)], new AbortController().signal);
  const t0 = Date.now();
  await s.close();
  assert.ok(Date.now() - t0 < 5000, 'bounded');
  assert.equal((await stuck).kind, 'retryable');
});
