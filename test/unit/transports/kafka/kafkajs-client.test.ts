import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { noDelaySocketFactory } from '../../../../transports/kafka/kafkajs-client.js';

test('kafkajs sockets connect with Nagle off, so a produce request is not held for the broker ACK', async (t) => {
  const server = net.createServer((s) => { s.pipe(s); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.close(); });
  // Spies on the real method: the socket is created inside the factory.
  const spy = t.mock.method(net.Socket.prototype, 'setNoDelay');
  let connected!: () => void;
  const up = new Promise<void>((r) => { connected = r; });
  const socket = noDelaySocketFactory({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ssl: null as never, onConnect: () => { connected(); } });
  await up;
  const noDelay = spy.mock.calls.map((c) => c.arguments[0]);
  spy.mock.restore();
  t.after(() => { socket.destroy(); });
  assert.deepEqual(noDelay, [true]);
  socket.write('ping');
  const [echo] = (await once(socket, 'data')) as [Buffer];
  assert.equal(echo.toString(), 'ping', 'a plaintext broker connection carries data');
});
