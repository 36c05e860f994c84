import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import { createWindowsSource } from '../../../../../agent/sources/windows/source.js';
import type { ListenerRecord, Snapshot } from '../../../../../agent/sources/types.js';
import { ft, recordedHost } from './recorded-host.js';

/** `zone` is kept beside the address (as the Linux collector does); shown here as Windows prints it. */
const key = (l: ListenerRecord & { zone?: string }) => `${l.transport} ${l.address}${l.zone === undefined ? '' : `%${l.zone}`}:${l.port}`;
const find = (s: Snapshot, k: string) => s.listeners.find((l) => key(l) === k);

test('Windows collector end to end over recorded IP Helper, process and PowerShell outputs', async (t) => {
  const host = recordedHost();
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  await src.start();
  const snap = await src.poll();
  assert.deepEqual(snap.warnings, []);
  assert.deepEqual(snap.listeners.map(key).sort(), [
    'tcp 0.0.0.0:3389', 'tcp 0.0.0.0:445', 'tcp 0.0.0.0:8080', 'tcp 127.0.0.1:9229', 'tcp :::3389',
    'tcp fe80::1c2d:3e4f:5a6b:7c8d%12:2869', 'udp 0.0.0.0:5353', 'udp fe80::1c2d:3e4f:5a6b:7c8d%12:1900',
  ], 'listeners only (the ESTABLISHED row is dropped), IPv6 zones kept');

  const rdp = find(snap, 'tcp 0.0.0.0:3389')!;
  assert.deepEqual(rdp.owners, [1184]);
  assert.equal(rdp.serviceName, 'TermService', 'owning service from GetOwnerModuleFromTcpEntry');
  assert.equal(rdp.boundAt, '2026-11-20T08:00:20.000Z');
  assert.equal(rdp.firewall, 'allowed', 'RDP allow rule on the active Public profile');
  assert.equal(rdp.netns, 'host');
  assert.equal(find(snap, 'tcp 0.0.0.0:445')!.firewall, 'blocked');
  assert.equal(find(snap, 'tcp 0.0.0.0:445')!.boundAt, undefined, 'zero bind timestamp');
  assert.equal(find(snap, 'tcp 0.0.0.0:8080')!.firewall, 'blocked', 'node rule is Private-only');
  assert.equal(find(snap, 'tcp 0.0.0.0:8080')!.serviceName, undefined, 'a plain program is no service');
  assert.equal(find(snap, 'tcp 127.0.0.1:9229')!.firewall, undefined);
  assert.equal(find(snap, 'udp 0.0.0.0:5353')!.serviceName, 'Dnscache');
  assert.equal(find(snap, 'udp 0.0.0.0:5353')!.firewall, 'allowed');
  assert.equal(find(snap, 'udp fe80::1c2d:3e4f:5a6b:7c8d%12:1900')!.firewall, 'blocked');
  const zoned = find(snap, 'tcp fe80::1c2d:3e4f:5a6b:7c8d%12:2869')! as ListenerRecord & { zone?: string };
  assert.deepEqual([zoned.family, zoned.address, zoned.zone], ['ipv6', 'fe80::1c2d:3e4f:5a6b:7c8d', '12'], 'zone split off the address');

  const node = snap.processes.get(5120)!;
  assert.equal(node.executable, 'C:\\Program Files\\nodejs\\node.exe', 'drive-letter path as Windows shows it');
  assert.deepEqual([node.userDomain, node.userName], ['CORP', 'alice']);
  assert.deepEqual(node.args, ['C:\\Program Files\\nodejs\\node.exe', 'C:\\srv\\app\\server.js', '--port', '8080', '--title', 'a "b" c']);
  assert.equal(node.startKey, ft(120000).toString(), 'startKey is the creation FILETIME in decimal');
  assert.equal(node.start, '2026-11-20T08:02:00.000Z');
  assert.equal(node.ppid, 4410);
  assert.equal(node.originalFileName, 'node.exe', 'PE original file name of a listener owner');
  assert.deepEqual(node.codeSignature, { exists: true, trusted: true, subjectName: 'OpenJS Foundation' });
  assert.equal(snap.processes.get(1184)!.codeSignature?.subjectName, 'Microsoft Windows Publisher');
  assert.equal(snap.processes.get(4410)!.codeSignature, undefined, 'only listener owners are checked');
  assert.equal(snap.processes.get(1184)!.userName, 'NETWORK SERVICE');
  assert.equal(snap.processes.get(1184)!.userDomain, 'NT AUTHORITY');
  const wininit = snap.processes.get(612)!;
  assert.equal(wininit.ppid, 508, 'dead parent kept as the OS reports it');
  assert.equal(snap.processes.has(508), false);
  const defender = snap.processes.get(6000)!;
  assert.equal(defender.executable, undefined, 'protected process: no path');
  assert.equal(defender.commandLine, undefined, 'empty command line = unknown');
  assert.equal(snap.processes.get(0)!.name, 'System Idle Process');
  assert.equal(snap.processes.get(4)!.start, '2026-11-20T08:00:00.000Z');

  const info = src.info();
  assert.equal(info.platform, 'windows');
  assert.equal(info.privileged, true);
  assert.match(info.listenerPath, /GetExtendedTcpTable/);
  assert.deepEqual(info.limitations, []);
});

test('second poll: unchanged processes are reused, details and owner modules are not asked again; PID reuse is a new process', async (t) => {
  const host = recordedHost();
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  const first = await src.poll();
  const scripts = host.scripts.length;
  const modules = host.ownerModuleCalls;
  const second = await src.poll();
  assert.equal(second.processes.get(1184), first.processes.get(1184), 'same record object');
  assert.equal(second.processes.get(5120), first.processes.get(5120), 'signature enrichment is not redone');
  assert.equal(host.scripts.length, scripts, 'no PowerShell round trip for known processes');
  assert.equal(host.ownerModuleCalls, modules, 'service names cached per socket');

  // node.exe exits; its pid is reused by a new cmd.exe started later.
  const reused = host.processes.find((p) => p.pid === 5120)!;
  reused.imageName = 'cmd.exe';
  reused.createTime = ft(600000);
  host.tables.tcp4 = host.tables.tcp4.filter((r) => r.pid !== 5120);
  host.extraDetails.push({ ProcessId: 5120, ParentProcessId: 4410, Name: 'cmd.exe', ExecutablePath: 'C:\\Windows\\System32\\cmd.exe', CommandLine: 'cmd.exe /c whoami', Created: ft(600000).toString(), User: 'bob', Domain: 'CORP' });
  const details = host.scripts.length;
  const third = await src.poll();
  const cmd = third.processes.get(5120)!;
  assert.notEqual(cmd, first.processes.get(5120));
  assert.equal(cmd.name, 'cmd.exe');
  assert.equal(cmd.startKey, ft(600000).toString());
  assert.equal(cmd.userName, 'bob', 'details matched to the new instance, not the old node.exe row');
  assert.match(host.scripts[details] ?? '', /-Filter 'ProcessId=5120'/, 'details asked for the new pid only');
  assert.equal(third.listeners.some((l) => l.port === 8080), false);
});

test('not elevated: limitations say which fields go missing, and other users\' details are absent', async (t) => {
  const host = recordedHost({ elevated: false });
  const log = memoryLogger();
  const src = createWindowsSource({ logger: log, runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  await src.start();
  const snap = await src.poll();
  const info = src.info();
  assert.equal(info.privileged, false);
  assert.match(info.limitations.join('\n'), /not running elevated: .*process\.command_line.*user\.name/);
  assert.ok(log.records.some((r) => r.level === 'warn' && /not running elevated/.test(r.message)));
  assert.equal(snap.processes.get(1184)!.commandLine, undefined);
  assert.equal(snap.processes.get(5120)!.userName, 'alice', 'own processes keep their details');
});

test('firewall unreadable: verdicts are unknown and the reason is reported once per poll', async (t) => {
  const host = recordedHost({ firewall: 'fail' });
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  const snap = await src.poll();
  assert.equal(find(snap, 'tcp 0.0.0.0:3389')!.firewall, 'unknown');
  assert.match(snap.warnings.join('\n'), /firewall state could not be read: FwPolicy2: Access is denied; NetSecurity cmdlets: Get-NetFirewallRule: Access is denied/);
  assert.match(src.info().limitations.join('\n'), /firewall state could not be read/);
});

test('FwPolicy2 unavailable: the NetSecurity cmdlets give the same verdicts', async (t) => {
  const host = recordedHost({ firewall: 'cmdlets' });
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  const snap = await src.poll();
  assert.deepEqual(snap.warnings, []);
  assert.deepEqual(snap.listeners.map((l) => `${key(l)} ${l.firewall ?? '-'}`).sort(), [
    'tcp 0.0.0.0:3389 allowed', 'tcp 0.0.0.0:445 blocked', 'tcp 0.0.0.0:8080 blocked', 'tcp 127.0.0.1:9229 -', 'tcp :::3389 allowed',
    'tcp fe80::1c2d:3e4f:5a6b:7c8d%12:2869 blocked', 'udp 0.0.0.0:5353 allowed', 'udp fe80::1c2d:3e4f:5a6b:7c8d%12:1900 blocked',
  ]);
});

test('firewall is re-read only after the refresh interval', async (t) => {
  const host = recordedHost();
  let now = Date.parse('2026-11-20T09:00:00Z');
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {}, firewallRefreshMs: 300_000, now: () => new Date(now) });
  t.after(() => src.shutdown());
  const count = () => host.scripts.filter((s) => s.includes('HNetCfg.FwPolicy2')).length;
  await src.poll();
  now += 60_000;
  await src.poll();
  assert.equal(count(), 1);
  now += 300_000;
  await src.poll();
  const deadline = Date.now() + 5000;
  while (count() < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(count(), 2, 'refreshed in the background once stale');
});

test('without koffi: netstat + PowerShell fallback, and the limitation says what is lost', async (t) => {
  const host = recordedHost({ native: false });
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  await src.start();
  const snap = await src.poll();
  const rdp = find(snap, 'tcp 0.0.0.0:3389')!;
  assert.deepEqual(rdp.owners, [1184]);
  assert.equal(rdp.boundAt, undefined);
  assert.equal(rdp.firewall, 'unknown', 'no service name from netstat, so the RDP rule cannot be decided');
  assert.equal(find(snap, 'tcp 0.0.0.0:445')!.firewall, 'blocked');
  assert.equal(snap.processes.get(5120)!.executable, 'C:\\Program Files\\nodejs\\node.exe');
  assert.equal(snap.processes.get(5120)!.userName, 'alice');
  assert.equal(snap.processes.get(5120)!.startKey, ft(120000).toString());
  const info = src.info();
  assert.match(info.listenerPath, /netstat -ano/);
  assert.match(info.limitations.join('\n'), /koffi unavailable \(koffi could not be loaded \(test\)\).*without bind times or owning service names/);
});

test('a failing Win32 call falls back to netstat and Win32_Process for that poll, with warnings', async (t) => {
  const host = recordedHost();
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  await src.poll();
  host.failNative = true;
  const snap = await src.poll();
  assert.match(snap.warnings.join('\n'), /NtQuerySystemInformation failed \(NtQuerySystemInformation failed: 0xc0000022\)/);
  assert.match(snap.warnings.join('\n'), /IP Helper failed \(GetExtendedTcpTable failed with error 87\); listeners from netstat/);
  assert.deepEqual(find(snap, 'tcp 0.0.0.0:3389')?.owners, [1184]);
  assert.equal(snap.processes.get(5120)?.name, 'node.exe');
});

test('shutdown closes the PowerShell session and is idempotent', async () => {
  const host = recordedHost();
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  await src.shutdown();
  await src.shutdown();
  assert.equal(host.closed, true);
  await assert.rejects(src.poll(), /shut down/);
});

test('no koffi and no PowerShell: netstat listeners still arrive; the limitations say what is missing', async (t) => {
  const host = recordedHost({ native: false });
  host.runner.powershell = () => Promise.reject(new Error('PowerShell exited (code 1, signal none)'));
  const src = createWindowsSource({ logger: memoryLogger(), runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  await src.start();
  const snap = await src.poll();
  assert.equal(find(snap, 'tcp 0.0.0.0:3389')?.firewall, 'unknown');
  assert.deepEqual(find(snap, 'tcp 0.0.0.0:3389')?.owners, [1184]);
  assert.equal(snap.processes.size, 0);
  assert.match(snap.warnings.join('\n'), /process table unavailable \(Win32_Process: PowerShell exited/);
  const lim = src.info().limitations.join('\n');
  assert.match(lim, /PowerShell is not answering/);
  assert.match(lim, /elevation unknown/);
});
