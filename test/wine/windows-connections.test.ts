import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../../testkit/paths.js';
import { waitFor } from '../../testkit/wait.js';
import { spawnNodeExe, winPath } from '../../testkit/wine.js';
import { dir, docs, procOf, skip as wineSkip, useWine, w } from './wine-env.js';

/**
 * `portwarden run` under the Windows node.exe in a wine prefix, with events.connections: all: a
 * Windows process that connects out after the agent's first poll is reported as
 * connection_attempted (wine's iphlpapi fills GetExtendedTcpTable from the Linux host's tables),
 * and a Sigma network_connection rule for Windows fires on it. Loopback peers are skipped, as on
 * Linux, so the peer is a listener on this machine's non-loopback IPv4 address.
 */
useWine();

const hostIp = Object.values(networkInterfaces()).flat().find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
const skip = wineSkip !== false ? wineSkip : hostIp === undefined ? 'no non-loopback IPv4 address to connect to (loopback peers are not reported)' : false;

// Connects to host:port, writes a line (wine names a socket's owner once the process has used it),
// writes its pid, and holds the connection until the stop file appears.
const CLIENT = `
const fs = require('fs'), net = require('net');
const [host, port, out, stop] = process.argv.slice(2);
const s = net.connect(Number(port), host, () => {
  s.write('hello\\n', () => {
    fs.writeFileSync(out + '.tmp', JSON.stringify({ pid: process.pid, localPort: s.localPort }));
    fs.renameSync(out + '.tmp', out);
    setInterval(() => { if (fs.existsSync(stop)) process.exit(0); }, 100);
  });
});
s.on('error', (e) => { fs.writeFileSync(out, JSON.stringify({ error: e.message })); process.exit(1); });
`;

test('run: a Windows process connecting out is connection_attempted with its process, and a Sigma network_connection rule fires', { skip, timeout: 600_000 }, async (t) => {
  const ip = hostIp ?? '';
  const accepted: Socket[] = [];
  const server = createServer((s) => { accepted.push(s); s.on('error', () => undefined); });
  await new Promise<void>((resolve) => { server.listen(0, ip, resolve); });
  t.after(() => { for (const s of accepted) s.destroy(); server.close(); });
  const port = (server.address() as { port: number }).port;

  const rule = join(dir, 'egress.yml');
  writeFileSync(rule, [
    'title: Windows Process Connects To The Test Port',
    'id: 0b6e2f4c-3c1d-4a8e-9f51-7d2a6c9e4b10',
    'status: test',
    'description: A Windows process initiated a TCP connection to the port this test listens on.',
    'author: portwarden tests',
    'date: 2026-12-07',
    'tags:',
    '  - attack.command-and-control',
    '  - attack.t1571',
    'logsource:',
    '  category: network_connection',
    '  product: windows',
    'detection:',
    '  selection:',
    "    Initiated: 'true'",
    `    DestinationPort: ${port}`,
    "    Image|endswith: '\\node.exe'",
    '  condition: selection',
    'level: high',
    '',
  ].join('\n'));
  const state = join(dir, 'conn-state');
  const events = join(dir, 'conn-events.ndjson');
  const config = join(dir, 'conn.yml');
  writeFileSync(config, [
    `state_dir: '${winPath(state)}'`, 'interval: 1s', 'events: { connections: all }', "heartbeat: { schedule: '* * * * * *' }",
    `detect: { builtin_rules: false, baseline: { enabled: false }, rule_files: ['${winPath(rule)}'] }`,
    `log: { file: '${winPath(join(dir, 'conn-agent.log'))}' }`,
    `outputs: [{ type: file, path: '${winPath(events)}', batch: { max_wait: 100ms } }]`, '',
  ].join('\n'));
  const agent = spawnNodeExe(w, [winPath(cliPath), 'run', '--config', winPath(config)], { stdout: join(dir, 'conn-run.out'), stderr: join(dir, 'conn-run.err') });
  t.after(() => agent.kill('SIGKILL'));
  const read = () => (existsSync(events) ? docs(readFileSync(events, 'utf8')) : []);
  await waitFor('the agent\'s first inventory', () => read().some((d) => d.event.action === 'listening_existing'), 300_000, 200);
  const started = read().find((d) => d.event.action === 'started');
  assert.match(JSON.stringify(started), /outbound connections are polled every interval/, 'the polling limitation is said in-band');

  const script = join(dir, 'client.cjs');
  writeFileSync(script, CLIENT);
  const out = join(dir, 'client.json');
  const stop = join(dir, 'client.stop');
  t.after(() => { writeFileSync(stop, ''); });
  spawnNodeExe(w, [winPath(script), ip, String(port), winPath(out), winPath(stop)], { stdout: join(dir, 'client.out'), stderr: join(dir, 'client.err') });
  const client = await waitFor('the client connected', () => existsSync(out) && JSON.parse(readFileSync(out, 'utf8')) as { pid?: number; localPort?: number; error?: string }, 120_000, 100);
  assert.equal(client.error, undefined);

  const attempted = await waitFor('connection_attempted', () => read().find((d) => d.event.action === 'connection_attempted' && (d.destination as { port?: number } | undefined)?.port === port), 120_000, 200);
  assert.deepEqual(attempted.destination, { ip, port, address: ip });
  assert.equal((attempted.source as { port?: number }).port, client.localPort);
  assert.equal((attempted.network as { direction?: string }).direction, 'egress');
  assert.equal(procOf(attempted)?.pid, client.pid);
  assert.match(String((attempted.process as { executable?: string }).executable), /\\node\.exe$/i);

  const alert = await waitFor('the Sigma alert', () => read().find((d) => d.event.action === 'suspicious_connection'
    && (d.rule as { id?: string } | undefined)?.id === '0b6e2f4c-3c1d-4a8e-9f51-7d2a6c9e4b10'), 60_000, 200);
  assert.equal(procOf(alert)?.pid, client.pid);
  assert.equal((alert.destination as { port?: number }).port, port);
  // The heartbeat carries the counters, as the kernel's on Linux; by then later polls have seen the connection again.
  await waitFor('a heartbeat counting the reported connection', () => read().some((d) => d.event.action === 'heartbeat'
    && Number(((d.portwarden as { collector?: { connections?: { reported?: number } } } | undefined)?.collector?.connections?.reported)) >= 1), 60_000, 200);
  assert.equal(read().filter((d) => d.event.action === 'connection_attempted' && (d.destination as { port?: number } | undefined)?.port === port).length, 1, 'reported once');
});
