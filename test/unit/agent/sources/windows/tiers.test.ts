import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import { CIM_TCP_SCRIPT, CIM_UDP_SCRIPT } from '../../../../../agent/sources/windows/cim-listeners.js';
import { createWindowsSource, parseDisabledTiers, type WindowsTier } from '../../../../../agent/sources/windows/source.js';
import { fixture } from '../../../../../testkit/paths.js';
import { recordedHost } from './recorded-host.js';

/** The recorded host, with the NetTCPIP cmdlets answering from recorded outputs. */
function host() {
  const h = recordedHost();
  const ps = h.runner.powershell.bind(h.runner);
  h.runner.powershell = (script, timeout) => {
    if (script === CIM_TCP_SCRIPT) return Promise.resolve(readFileSync(fixture('windows', 'ps-get-nettcpconnection-single.json'), 'utf8'));
    if (script === CIM_UDP_SCRIPT) return Promise.resolve(readFileSync(fixture('windows', 'ps7-get-netudpendpoint.json'), 'utf8'));
    return ps(script, timeout);
  };
  return h;
}

function pollWith(disable: WindowsTier[], t: { after(fn: () => unknown): void }) {
  const h = host();
  const src = createWindowsSource({ logger: memoryLogger(), runner: h.runner, env: {}, disable });
  t.after(() => src.shutdown());
  return { src, h };
}

test('listener tiers in order: IP Helper, then netstat -ano, then Get-NetTCPConnection/Get-NetUDPEndpoint', async (t) => {
  const { src: all } = pollWith([], t);
  const a = await all.poll();
  assert.ok(a.listeners.some((l) => l.port === 3389 && l.boundAt !== undefined), 'IP Helper gives bind times');

  const { src: noIph, h: h1 } = pollWith(['iphelper'], t);
  const b = await noIph.poll();
  assert.match(noIph.info().listenerPath, /netstat -ano/);
  assert.ok(b.listeners.some((l) => l.port === 3389 && l.boundAt === undefined && l.owners[0] === 1184), 'netstat: owner, no bind time');
  assert.ok(!h1.scripts.includes(CIM_TCP_SCRIPT), 'PowerShell tier not asked while netstat answers');
  assert.match(noIph.info().limitations.join('\n'), /disabled by PORTWARDEN_WINDOWS_DISABLE: iphelper/);

  const { src: psOnly } = pollWith(['iphelper', 'netstat'], t);
  const c = await psOnly.poll();
  assert.match(psOnly.info().listenerPath, /Get-NetTCPConnection/);
  assert.deepEqual(c.listeners.map((l) => `${l.transport} ${l.address}:${l.port} ${l.owners.join()}`).sort(), [
    'tcp 0.0.0.0:3389 1184', 'udp 0.0.0.0:5353 2208', 'udp fe80::1c2d:3e4f:5a6b:7c8d:1900 3920',
  ]);
  assert.match(c.warnings.join('\n'), /listeners from Get-NetTCPConnection\/Get-NetUDPEndpoint this time \(IP Helper: disabled .*; netstat -ano: disabled/);
});

test('every tier disabled or failing: the poll fails naming each tier and why', async (t) => {
  const { src } = pollWith(['iphelper', 'netstat', 'powershell'], t);
  await assert.rejects(src.poll(), /no listener source answered: IP Helper: disabled by PORTWARDEN_WINDOWS_DISABLE; netstat -ano: disabled by PORTWARDEN_WINDOWS_DISABLE; Get-NetTCPConnection\/Get-NetUDPEndpoint: disabled/);

  const h = host();
  h.runner.netstat = () => Promise.reject(new Error('netstat.exe not found'));
  const ps = h.runner.powershell.bind(h.runner);
  h.runner.powershell = (script, timeout) => (script === CIM_TCP_SCRIPT ? Promise.reject(new Error('PowerShell exited (code 0, signal none)')) : ps(script, timeout));
  const src2 = createWindowsSource({ logger: memoryLogger(), runner: h.runner, env: {}, disable: ['iphelper'] });
  t.after(() => src2.shutdown());
  await assert.rejects(src2.poll(), /netstat -ano: netstat\.exe not found; Get-NetTCPConnection\/Get-NetUDPEndpoint: PowerShell exited/);
});

test('PORTWARDEN_WINDOWS_DISABLE: a list of tier names; an unknown one is refused with the names expected', () => {
  assert.deepEqual(parseDisabledTiers(undefined), []);
  assert.deepEqual(parseDisabledTiers(' IPHelper, netstat '), ['iphelper', 'netstat']);
  assert.throws(() => parseDisabledTiers('iphelper,wmi'), /PORTWARDEN_WINDOWS_DISABLE: unknown tier "wmi" \(expected a comma-separated list of iphelper, netstat, powershell\)/);
});
