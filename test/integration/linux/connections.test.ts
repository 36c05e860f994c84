import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { readlinkSync } from 'node:fs';
import { readConnections } from '../../../agent/sources/linux/connections.js';
import { parseNsLink } from '../../../agent/sources/linux/proc-parsers.js';
import { loadSockDiag } from '../../../agent/sources/linux/sock-diag.js';
import { jsFdWalker } from '../../../agent/sources/linux/socket-owners.js';
import { waitFor } from '../../helpers/wait.js';

const diag = loadSockDiag();

test('the addon reads a process\'s established TCP connections with what it read and wrote; other processes\' are not reported', { skip: diag === undefined ? 'sock_diag addon not built' : false }, async (t) => {
  if (diag === undefined) return;
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  const port = (server.address() as AddressInfo).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect(port, '127.0.0.1');
  t.after(() => { client.destroy(); });
  const peer = await accepted;
  t.after(() => { peer.destroy(); });
  // 11 bytes out, 2,000 back.
  const got = new Promise<void>((r) => { let n = 0; client.on('data', (b: Buffer) => { n += b.length; if (n >= 2000) r(); }); });
  client.write('hello relay');
  await new Promise<void>((r) => peer.once('data', () => { r(); }));
  peer.write(Buffer.alloc(2000, 0x61));
  await got;

  // Another process's connection to the same server: in the namespace's dump, not ours.
  const other = spawn(process.execPath, ['-e', `const c=require('node:net').connect(${port},'127.0.0.1');c.on('connect',()=>console.log('up'));setTimeout(()=>{},60000)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { other.kill('SIGKILL'); });
  await new Promise<void>((r) => other.stdout.once('data', () => { r(); }));

  const netns = parseNsLink(readlinkSync('/proc/self/ns/net')) ?? '';
  const problems: string[] = [];
  const mine = await waitFor('both ends with settled counters', () => {
    const rows = readConnections(diag, jsFdWalker('/proc'), '/proc', [{ netns, own: true, pids: [process.pid] }], problems)
      .filter((c) => c.localPort === port || c.remotePort === port);
    return rows.length === 3 && rows.every((c) => c.bytesRead !== undefined) ? rows : undefined;
  }, 10_000);
  assert.deepEqual(problems, []);
  assert.ok(mine.every((c) => c.pid === process.pid && c.netns === netns && c.family === 'ipv4'));
  const serverSide = mine.filter((c) => c.localPort === port);
  const clientSide = mine.find((c) => c.remotePort === port && c.localPort === client.localPort);
  // The accepted end of our own client, and the accepted end of the other process's client.
  assert.equal(serverSide.length, 2);
  const ours = serverSide.find((c) => c.remotePort === client.localPort);
  assert.deepEqual({ read: ours?.bytesRead, wrote: ours?.bytesWritten, remote: ours?.remoteAddress }, { read: 11, wrote: 2000, remote: '127.0.0.1' });
  assert.ok(clientSide !== undefined);
  assert.equal(clientSide.bytesRead, 2000);
  // The side that connected counts its SYN in bytes_acked.
  assert.ok(clientSide.bytesWritten === 11 || clientSide.bytesWritten === 12, String(clientSide.bytesWritten));
  assert.equal(mine.some((c) => c.localPort !== port && c.localPort !== client.localPort), false, 'the other process\'s client end is not ours');
});
