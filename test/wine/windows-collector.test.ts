import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../../testkit/paths.js';
import { waitFor } from '../../testkit/wait.js';
import { NOT_UNDER_WINE, runNodeExe, setUpWine, spawnNodeExe, tearDownWine, winPath, type Wine } from '../../testkit/wine.js';

/**
 * The Windows collector for real: the compiled agent under the Windows node.exe in a wine prefix,
 * through the same koffi calls as on Windows (IP Helper, NtQuerySystemInformation). The listener
 * belongs to another Windows process of the prefix, started by a Windows parent.
 * Skipped (and said so) where wine or the fetched Windows runtime is absent.
 */
const setup = setUpWine();
const skip = setup.ok ? false : `wine tests skipped: ${setup.reason}`;
let w: Wine;
let dir: string;

// Parent mode starts a child (itself, child mode) and writes its own pid; the child opens TCP and
// UDP listeners on port 0 for IPv4 and IPv6, writes what it got, and ends when the stop file appears.
const LISTENER = `
const fs = require('fs'), net = require('net'), dgram = require('dgram'), cp = require('child_process');
const [out, stop, mode] = process.argv.slice(2);
const write = (f, v) => { fs.writeFileSync(f + '.tmp', JSON.stringify(v)); fs.renameSync(f + '.tmp', f); };
if (mode === 'parent') {
  const c = cp.spawn(process.execPath, [__filename, out, stop, 'child'], { stdio: 'ignore' });
  write(out + '.parent', { pid: process.pid });
  c.on('exit', () => process.exit(0));
} else {
  const got = { pid: process.pid, ppid: process.ppid, errors: {} };
  const tcp = (k, host) => new Promise((res) => { const s = net.createServer(); s.on('error', (e) => { got.errors[k] = e.message; res(); }); s.listen(0, host, () => { got[k] = s.address().port; res(); }); });
  const udp = (k, type, host) => new Promise((res) => { const s = dgram.createSocket(type); s.on('error', (e) => { got.errors[k] = e.message; res(); }); s.bind(0, host, () => { got[k] = s.address().port; res(); }); });
  Promise.all([tcp('tcp4', '127.0.0.1'), tcp('tcp6', '::1'), udp('udp4', 'udp4', '127.0.0.1'), udp('udp6', 'udp6', '::1')]).then(() => {
    write(out, got);
    setInterval(() => { if (fs.existsSync(stop)) process.exit(0); }, 100);
  });
}
`;

interface Opened { pid: number; ppid: number; tcp4?: number; tcp6?: number; udp4?: number; udp6?: number; errors: Record<string, string> }
type Doc = Record<string, unknown> & { event: { action: string }; server: { port: number }; network: { transport: string; type: string } };
const procOf = (d: Doc) => d.process as { pid?: number; name?: string; parent?: { pid?: number; name?: string } } | undefined;

/** Starts parent + child listener processes under wine; resolves when the child has bound. */
async function startListener(name: string): Promise<{ opened: Opened; parent: number; stop: () => void }> {
  const script = join(dir, 'listener.cjs');
  if (!existsSync(script)) writeFileSync(script, LISTENER);
  const out = join(dir, `${name}.json`);
  const stopFile = join(dir, `${name}.stop`);
  spawnNodeExe(w, [winPath(script), winPath(out), winPath(stopFile), 'parent'], { stdout: join(dir, `${name}.out`), stderr: join(dir, `${name}.err`) });
  const opened = await waitFor(`${name} listeners`, () => existsSync(out) && JSON.parse(readFileSync(out, 'utf8')) as Opened, 120_000, 100);
  const parent = (JSON.parse(readFileSync(`${out}.parent`, 'utf8')) as { pid: number }).pid;
  return { opened, parent, stop: () => { writeFileSync(stopFile, ''); } };
}

async function cli(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const files = { stdout: join(dir, `${name}.out`), stderr: join(dir, `${name}.err`) };
  const code = await runNodeExe(w, [winPath(cliPath), ...args], files, env);
  return { code, stdout: readFileSync(files.stdout, 'utf8'), stderr: readFileSync(files.stderr, 'utf8') };
}

const docs = (text: string): Doc[] => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Doc);
const expected = (o: Opened) => (['tcp4', 'tcp6', 'udp4', 'udp6'] as const).filter((k) => o[k] !== undefined).map((k) => ({ k, port: o[k]! }));
const matches = (d: Doc, k: string, port: number) => d.server.port === port && d.network.transport === k.slice(0, 3) && d.network.type === (k.endsWith('6') ? 'ipv6' : 'ipv4');

before(() => {
  if (!setup.ok) return;
  w = setup.wine;
  dir = mkdtempSync(join(tmpdir(), 'pw-wine-'));
});
after(() => {
  if (!setup.ok) return;
  tearDownWine(w);
  rmSync(dir, { recursive: true, force: true });
});

test('under wine: versions, prefix time, and what wine cannot show (verified on recorded inputs only)', { skip }, (t) => {
  t.diagnostic(`wine: ${w.versions.wine}; Windows node.exe ${w.versions.node}; koffi-win32-x64 ${w.versions.koffi}; prefix ready in ${(w.prefixMs / 1000).toFixed(1)} s`);
  for (const line of NOT_UNDER_WINE) t.diagnostic(`not under wine (verified on recorded inputs only): ${line}`);
  assert.match(w.versions.wine, /^wine-/);
});

test('listeners --json: IP Helper through koffi sees another Windows process\'s TCP and UDP listeners with pid and name', { skip, timeout: 600_000 }, async (t) => {
  const l = await startListener('inv');
  t.after(l.stop);
  for (const [k, e] of Object.entries(l.opened.errors)) t.diagnostic(`wine could not open ${k}: ${e}`);
  assert.ok(l.opened.tcp4 !== undefined && l.opened.udp4 !== undefined, 'IPv4 TCP and UDP listeners opened');
  const r = await cli('inv-listeners', ['listeners', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const all = docs(r.stdout);
  let owned = 0;
  for (const { k, port } of expected(l.opened)) {
    const d = all.find((x) => matches(x, k, port));
    assert.ok(d !== undefined, `${k} port ${port} listed (stderr: ${r.stderr})`);
    assert.equal(d.event.action, 'listening_existing');
    // wine 8.0 gives pid 0 for TCP sockets in every GetExtendedTcpTable class (OWNER_PID too), so a
    // TCP listener is seen without its owner; UDP sockets carry theirs.
    if (k.startsWith('tcp') && procOf(d) === undefined) {
      t.diagnostic(`${k} port ${port}: seen, no owner (wine reports pid 0 for TCP sockets)`);
      continue;
    }
    owned++;
    assert.equal(procOf(d)?.pid, l.opened.pid, `${k}: owner pid`);
    assert.equal(procOf(d)?.name, 'node.exe', `${k}: process.name`);
    assert.equal(procOf(d)?.parent?.pid, l.parent, `${k}: parent from the NtQuerySystemInformation snapshot`);
  }
  assert.ok(owned >= 1, 'at least the UDP listeners have their owner');
  const text = await cli('inv-table', ['listeners']);
  assert.match(text.stderr, /Win32 export iphlpapi\.dll!GetOwnerModuleFromTcpEntry unavailable/, 'the missing export is said');
  assert.doesNotMatch(text.stderr, /IP Helper via koffi unavailable/);
});

test('run: listening_started then listening_stopped, with the Windows parent as ancestry', { skip, timeout: 600_000 }, async (t) => {
  const state = join(dir, 'state');
  const events = join(dir, 'events.ndjson');
  const config = join(dir, 'run.yml');
  writeFileSync(config, [
    `state_dir: '${winPath(state)}'`, 'interval: 1s', 'detect: { enabled: false }',
    `log: { file: '${winPath(join(dir, 'agent.log'))}' }`,
    `outputs: [{ type: file, path: '${winPath(events)}', batch: { max_wait: 100ms } }]`, '',
  ].join('\n'));
  const agent = spawnNodeExe(w, [winPath(cliPath), 'run', '--config', winPath(config)], { stdout: join(dir, 'run.out'), stderr: join(dir, 'run.err') });
  t.after(() => agent.kill('SIGKILL'));
  const read = () => (existsSync(events) ? docs(readFileSync(events, 'utf8')) : []);
  await waitFor('the agent\'s first inventory', () => read().some((d) => d.event.action === 'listening_existing'), 300_000, 200);

  const l = await startListener('run');
  const { udp4 } = l.opened;
  assert.ok(udp4 !== undefined);
  const started = await waitFor('listening_started', () => read().find((d) => d.event.action === 'listening_started' && matches(d, 'udp4', udp4)), 120_000, 200);
  assert.equal(procOf(started)?.pid, l.opened.pid);
  assert.equal(procOf(started)?.name, 'node.exe');
  assert.equal(procOf(started)?.parent?.pid, l.parent, 'ancestry: the Windows parent that started it');
  const lineage = (started.portwarden as { lineage?: unknown }).lineage;
  assert.ok(JSON.stringify(lineage ?? started.process).includes(String(l.parent)), 'the parent is in the lineage');
  for (const { k, port } of expected(l.opened)) {
    assert.ok(read().some((d) => d.event.action === 'listening_started' && matches(d, k, port)), `${k} listening_started`);
  }
  l.stop();
  const stopped = await waitFor('listening_stopped', () => read().find((d) => d.event.action === 'listening_stopped' && matches(d, 'udp4', udp4)), 120_000, 200);
  assert.equal(procOf(stopped)?.pid, l.opened.pid);
  for (const { k, port } of expected(l.opened)) {
    await waitFor(`${k} listening_stopped`, () => read().some((d) => d.event.action === 'listening_stopped' && matches(d, k, port)), 60_000, 200);
  }
});

test('fallback tiers: IP Helper disabled -> netstat -ano; netstat disabled too -> PowerShell, which wine lacks', { skip, timeout: 600_000 }, async (t) => {
  const l = await startListener('tiers');
  t.after(l.stop);
  const udp4 = l.opened.udp4!;
  const viaNetstat = await cli('tiers-netstat', ['listeners'], { PORTWARDEN_WINDOWS_DISABLE: 'iphelper' });
  assert.equal(viaNetstat.code, 0, viaNetstat.stderr);
  assert.match(viaNetstat.stderr, /IP Helper via koffi unavailable \(disabled by PORTWARDEN_WINDOWS_DISABLE\): listeners come from netstat -ano/);
  // wine's netstat.exe prints no PID column and no listening TCP rows: the UDP listener is seen, unowned.
  assert.match(viaNetstat.stdout, new RegExp(`^udp +127\\.0\\.0\\.1:${udp4} `, 'm'), viaNetstat.stdout);
  for (const line of viaNetstat.stdout.trim().split('\n')) t.diagnostic(`netstat tier under wine: ${line}`);

  const viaPs = await cli('tiers-ps', ['listeners', '--json'], { PORTWARDEN_WINDOWS_DISABLE: 'iphelper,netstat' });
  assert.equal(viaPs.code, 1, 'no tier can answer under wine: an error, not an empty inventory');
  assert.equal(viaPs.stdout, '');
  assert.match(viaPs.stderr, /collector failed: no listener source answered: IP Helper: disabled by PORTWARDEN_WINDOWS_DISABLE; netstat -ano: disabled by PORTWARDEN_WINDOWS_DISABLE; Get-NetTCPConnection\/Get-NetUDPEndpoint: PowerShell/);
});

