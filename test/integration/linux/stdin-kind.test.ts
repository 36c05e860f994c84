import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { isShellLike } from '../../../agent/detect/shell-like.js';
import { readProcess, UserNames } from '../../../agent/sources/linux/process-reader.js';
import type { ProcessReadContext } from '../../../agent/sources/linux/process-reader.js';
import { parseBtime } from '../../../agent/sources/linux/proc-parsers.js';
import { loadSockDiag } from '../../../agent/sources/linux/sock-diag.js';
import { waitFor } from '../../helpers/wait.js';

const ctx: ProcessReadContext = {
  procRoot: '/proc', clockTicks: 100, users: new UserNames(), stdinChecked: isShellLike,
  bootTimeMs: (parseBtime(readFileSync('/proc/stat', 'utf8')) ?? 0) * 1000,
};
const diag = loadSockDiag();
// With the addon the socket's protocol is asked of the socket itself; without it, the namespace's
// /proc/net/tcp{,6} tables are searched for its inode. Both must tell the same.
const contexts: [string, ProcessReadContext][] = [['the /proc/net tables', ctx]];
if (diag !== undefined) contexts.push(['the socket\'s protocol (addon)', { ...ctx, socketProtocol: (p) => diag.socketProtocol(p) }]);

test('a shell reading from a TCP connection is told apart from one on a pipe or a unix socket', async (t) => {
  // A real TCP connection becomes the shell's stdin: what `nc -e /bin/sh` or a bind shell does.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  t.after(() => { client.destroy(); });
  await new Promise<void>((r) => client.once('connect', r));
  const conn = await accepted;
  t.after(() => { conn.destroy(); });
  // Enough other connections that /proc/<pid>/net/tcp spans many short reads.
  const crowd: Socket[] = [];
  t.after(() => { for (const c of crowd) c.destroy(); });
  for (let i = 0; i < 300; i++) {
    const c = connect((server.address() as AddressInfo).port, '127.0.0.1');
    crowd.push(c);
    await new Promise<void>((r) => c.once('connect', r));
  }
  const fd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
  // The same over IPv6 loopback, where this host has ::1 (the kernel names it TCPv6).
  const server6 = createServer();
  const v6 = await new Promise<boolean>((r) => { server6.once('error', () => { r(false); }).listen(0, '::1', () => { r(true); }); });
  t.after(() => { server6.close(); });
  let fd6: number | undefined;
  if (v6) {
    const accepted6 = new Promise<Socket>((r) => server6.once('connection', r));
    const client6 = connect((server6.address() as AddressInfo).port, '::1');
    t.after(() => { client6.destroy(); });
    const conn6 = await accepted6;
    t.after(() => { conn6.destroy(); });
    fd6 = (conn6 as unknown as { _handle: { fd: number } })._handle.fd;
  }
  const viaTcp = spawn('sh', ['-c', 'sleep 30'], { stdio: [fd, 'ignore', 'ignore'] });
  const viaTcp6 = fd6 === undefined ? undefined : spawn('sh', ['-c', 'sleep 30'], { stdio: [fd6, 'ignore', 'ignore'] });
  const viaPipe = spawn('sh', ['-c', 'sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] }); // libuv: a unix socketpair
  const viaNull = spawn('sh', ['-c', 'sleep 30'], { stdio: ['ignore', 'ignore', 'ignore'] });
  // Reading a pipe, writing to the connection (sh -i < fifo > /dev/tcp/...): stdout is the TCP socket.
  const outTcp = spawn('sh', ['-c', 'sleep 30'], { stdio: ['pipe', fd, 'ignore'] });
  // What is not a shell is not checked: its stdout is not read.
  const sleeper = spawn('sleep', ['30'], { stdio: ['ignore', fd, 'ignore'] });
  t.after(() => { for (const p of [viaTcp, viaTcp6, viaPipe, viaNull, outTcp, sleeper]) p?.kill('SIGKILL'); });
  for (const [how, c] of contexts) {
    // Read only once the child has exec'd sh (before that it is a copy of this node process).
    const kind = (pid: number | undefined) => {
      const rec = pid === undefined ? undefined : readProcess(pid, c);
      return rec?.name === 'sh' ? rec.stdin : undefined;
    };
    assert.equal(await waitFor(`the tcp shell, by ${how}`, () => kind(viaTcp.pid)), 'tcp');
    if (viaTcp6 !== undefined) assert.equal(await waitFor(`the tcp6 shell, by ${how}`, () => kind(viaTcp6.pid)), 'tcp');
    assert.equal(await waitFor(`the socketpair shell, by ${how}`, () => kind(viaPipe.pid)), 'socket');
    assert.equal(await waitFor(`the /dev/null shell, by ${how}`, () => kind(viaNull.pid)), 'null');
    const out = (pid: number | undefined, name: string) => {
      const rec = pid === undefined ? undefined : readProcess(pid, c);
      return rec?.name === name ? rec : undefined;
    };
    const sh = await waitFor(`the shell writing to tcp, by ${how}`, () => out(outTcp.pid, 'sh'));
    assert.deepEqual([sh.stdin, sh.stdout], ['socket', 'tcp']);
    assert.equal((await waitFor(`the stdin shell's stdout, by ${how}`, () => out(viaTcp.pid, 'sh'))).stdout, 'null');
    assert.equal((await waitFor(`sleep, by ${how}`, () => out(sleeper.pid, 'sleep'))).stdout, undefined);
  }
  if (diag !== undefined) {
    // What the addon answers, directly: the kernel's protocol names, nothing for a non-socket.
    assert.equal(diag.socketProtocol(`/proc/self/fd/${fd}`), 'TCP');
    if (fd6 !== undefined) assert.equal(diag.socketProtocol(`/proc/self/fd/${fd6}`), 'TCPv6');
    assert.equal(diag.socketProtocol('/proc/self/exe'), undefined);
    assert.equal(diag.socketProtocol('/proc/self/fd/999999'), undefined);
  }
});

test('a 100 KB command line is read whole from a live process', async (t) => {
  const big = 'x'.repeat(100_000);
  const p = spawn('python3', ['-c', 'import time; time.sleep(30)', big], { stdio: 'ignore' });
  t.after(() => { p.kill('SIGKILL'); });
  const rec = await waitFor('python3 running', () => {
    const r = p.pid === undefined ? undefined : readProcess(p.pid, ctx);
    // Right at exec, comm can already say python3 while cmdline still shows the parent's image.
    return r?.name === 'python3' && r.args?.length === 4 && r.args[1] === '-c' ? r : undefined;
  });
  assert.equal(rec.args?.length, 4);
  assert.equal(rec.args[3]?.length, 100_000);
});
