import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_UNDER_WINE } from '../../testkit/wine.js';
import { cli, docs, expected, matches, procOf, skip, startListener, useWine, w } from './wine-env.js';

/**
 * The Windows collector for real: the compiled agent under the Windows node.exe in a wine prefix,
 * through the same koffi calls as on Windows (IP Helper, NtQuerySystemInformation), against
 * listeners of another Windows process of the prefix, started by a Windows parent.
 */
useWine();

test('under wine: versions, prefix time, and what wine cannot show (verified on recorded inputs only)', { skip }, (t) => {
  t.diagnostic(`wine: ${w.versions.wine}; Windows node.exe ${w.versions.node}; koffi-win32-x64 ${w.versions.koffi}; prefix ${w.prefixHow} in ${(w.prefixMs / 1000).toFixed(1)} s`);
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


