import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleFile } from '../../../../agent/detect/load.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import type { Detector } from '../../../../agent/detect/types.js';
import { UnsupportedRuleError } from '../../../../agent/detect/sigma.js';
import { fixture } from '../../../../testkit/paths.js';
import { Harness, ids } from './harness.js';

// SigmaHQ rules, unchanged (DRL 1.1, authors in each file; see test/fixtures/sigma/README.md).
const RULES = fixture('sigma', 'rules');
const SSH_FORWARD = '327f48c1-a6db-4eb8-875a-f6981f1b0183'; // windash
const REGASM_NET = '0531e43a-d77d-47c2-b89f-5fe50321c805'; // network_connection, cidr
const FROM_B64 = 'fdb62a13-9a81-4e5c-a38f-ea93a16f6d7c'; // base64offset
const CROSS_USER = 'd2b7a134-9c3e-4f8a-b56d-e0c1f8a29b47'; // fieldref, null
const EXTRAC32 = '4b13db67-0c45-40f1-aba8-66a1a7198a1e'; // re, contains|all
const AWK = '8c1a5675-cb85-452f-a298-b01b22a51856'; // linux, all of selection_*

function engine(os: 'windows' | 'linux', files: string[]) {
  const h = new Harness(os);
  return { h, e: h.engine({ builtin_rules: false, baseline: { enabled: false }, rule_files: files }) };
}
const file = (name: string) => join(RULES, name);

test('SigmaHQ rules load with attribution: author, DRL-1.1 licence, references, every ATT&CK tag', () => {
  const [ssh] = loadRuleFile(file('proc_creation_win_ssh_port_forward.yml'));
  assert.ok(ssh);
  assert.equal(ssh.meta.id, SSH_FORWARD);
  assert.deepEqual(ssh.meta.author, ['Nasreddine Bencherchali (Nextron Systems)']);
  assert.equal(ssh.meta.license, 'DRL-1.1', 'the fixture directory carries SigmaHQ\'s LICENSE');
  assert.equal(ssh.meta.ruleset, 'sigma');
  assert.equal(ssh.meta.severity, 47);
  assert.deepEqual(ssh.meta.os, ['windows']);
  assert.equal(ssh.meta.threat.technique.id, 'T1572');
  const all = [ssh.meta.threat, ...(ssh.meta.moreThreats ?? [])];
  assert.deepEqual([...new Set(all.map((x) => x.subtechnique?.id ?? x.technique.id))].sort(), ['T1021.001', 'T1021.004', 'T1572']);
  assert.deepEqual([...new Set(all.map((x) => x.tactic.id))].sort(), ['TA0008', 'TA0011']);
});

test('windash: -R, /R and the Unicode dashes all match; other options do not', () => {
  const { h, e } = engine('windows', [file('proc_creation_win_ssh_port_forward.yml')]);
  const fire = (cmd: string, exe = 'C:\\Windows\\System32\\OpenSSH\\ssh.exe') =>
    ids(e.evaluate(h.processDoc(h.chain({ name: 'cmd.exe' }, { name: 'ssh.exe', executable: exe, commandLine: cmd }))));
  for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) assert.deepEqual(fire(`ssh ${dash}R 8080:127.0.0.1:80 u@h`), [SSH_FORWARD], dash);
  assert.deepEqual(fire('ssh -L 8080:127.0.0.1:80 u@h'), []);
  assert.deepEqual(fire('ssh -R 8080:127.0.0.1:80 u@h', 'C:\\tools\\plink.exe'), []);
});

test('base64offset: the phrase base64-encoded at any byte offset inside the command line matches', () => {
  const { h, e } = engine('windows', [file('proc_creation_win_powershell_base64_frombase64string.yml')]);
  const fire = (cmd: string) => ids(e.evaluate(h.processDoc(h.chain({ name: 'explorer.exe' }, { name: 'powershell.exe', executable: 'C:\\ps\\powershell.exe', commandLine: cmd }))));
  for (const prefix of ['', 'x', 'xy']) {
    const payload = Buffer.from(`${prefix}[Convert]::FromBase64String($s)`).toString('base64');
    assert.deepEqual(fire(`powershell -c "iex $([Text.Encoding]::ASCII.GetString([Convert]::FromBase64String('${payload}')))"`), [FROM_B64], `offset ${prefix.length}`);
  }
  assert.deepEqual(fire(`powershell -enc ${Buffer.from('Get-Process').toString('base64')}`), []);
  assert.deepEqual(fire('powershell -c "[Convert]::FromBase64String($s)"'), [], 'the plain text is not the encoded one');
});

test('fieldref and null: a notepad under another user than its parent fires, the same user or no user does not', () => {
  const { h, e } = engine('windows', [file('proc_creation_win_susp_cross_user_process_spawn.yml')]);
  const fire = (child?: string, parent?: string) => ids(e.evaluate(h.processDoc(h.chain(
    { name: 'explorer.exe', ...(parent === undefined ? {} : { userName: parent }) },
    { name: 'notepad.exe', executable: 'C:\\Windows\\notepad.exe', ...(child === undefined ? {} : { userName: child }) },
  ))));
  assert.deepEqual(fire('alice', 'SYSTEM'), [CROSS_USER]);
  assert.deepEqual(fire('alice', 'ALICE'), [], 'same user, compared without case');
  assert.deepEqual(fire(undefined, 'bob'), [], 'User: null filter');
  assert.deepEqual(fire('alice', undefined), [], 'ParentUser: null filter');
});

test('re with contains|all: an alternate data stream after the cab name matches, a plain path does not', () => {
  const { h, e } = engine('windows', [file('proc_creation_win_lolbin_extrac32_ads.yml')]);
  const fire = (cmd: string) => ids(e.evaluate(h.processDoc(h.chain({ name: 'cmd.exe' }, { name: 'extrac32.exe', executable: 'C:\\Windows\\System32\\extrac32.exe', commandLine: cmd }))));
  assert.deepEqual(fire('extrac32.exe /C C:\\x\\a.cab C:\\x\\notes.txt:payload.exe'), [EXTRAC32]);
  assert.deepEqual(fire('extrac32.exe /C C:\\x\\a.cab C:\\x\\notes.txt'), []);
  assert.deepEqual(fire('extrac32.exe /C C:\\x\\a.zip C:\\x\\notes.txt:payload.exe'), [], 'both literals needed');
});

test('Linux rule with all of selection_*: awk BEGIN {system("/bin/sh")} fires, a plain awk does not', () => {
  const { h, e } = engine('linux', [file('proc_creation_lnx_awk_shell_spawn.yml')]);
  const fire = (cmd: string) => ids(e.evaluate(h.processDoc(h.chain({ name: 'bash', executable: '/usr/bin/bash' }, { name: 'gawk', executable: '/usr/bin/gawk', commandLine: cmd }))));
  assert.deepEqual(fire('gawk \'BEGIN {system("/bin/sh")}\''), [AWK]);
  assert.deepEqual(fire('gawk \'{print $1}\' /etc/passwd'), []);
});

/** A connection event as Winlogbeat ships Sysmon event 3 (and as the engine's connection family reads it). */
export function connectionDoc(h: Harness, exe: string, ip: string, direction: 'egress' | 'ingress'): EcsDocument {
  const doc = h.processDoc(h.chain({ name: 'explorer.exe' }, { name: exe.split('\\').pop() ?? exe, executable: exe }));
  return {
    ...doc,
    event: { ...doc.event, action: 'network_connection', category: ['network'], type: ['connection', 'start'] },
    destination: { ip, port: 443 }, source: { ip: '10.1.2.3', port: 50123 },
    network: { direction, transport: 'tcp', type: ip.includes(':') ? 'ipv6' : 'ipv4' },
  };
}

test('network_connection with cidr: regasm reaching a public address fires; private, link-local or inbound do not', () => {
  const { h, e } = engine('windows', [file('net_connection_win_regasm_network_activity.yml')]);
  const fire = (ip: string, direction: 'egress' | 'ingress' = 'egress', exe = 'C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\RegAsm.exe') =>
    e.evaluate(connectionDoc(h, exe, ip, direction));
  const [alert] = fire('203.0.113.9');
  assert.equal((alert?.rule as { id?: string } | undefined)?.id, REGASM_NET);
  assert.equal(alert?.event.action, 'suspicious_connection');
  assert.deepEqual((alert as { destination?: unknown }).destination, { ip: '203.0.113.9', port: 443 });
  assert.deepEqual(ids(fire('2001:db8::7')), [REGASM_NET]);
  for (const ip of ['10.9.8.7', '172.20.0.1', '192.168.1.1', '127.0.0.1', 'fe80::1', 'fd00::1', '::1']) assert.deepEqual(ids(fire(ip)), [], ip);
  assert.deepEqual(ids(fire('203.0.113.9', 'ingress')), [], 'Initiated: true means egress');
  assert.deepEqual(ids(fire('203.0.113.9', 'egress', 'C:\\Windows\\System32\\svchost.exe')), []);
});

test('1 of them, and the prefilter changes no verdict: every rule tested directly agrees with the engine', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-sigma-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const own = join(dir, 'them.yml');
  writeFileSync(own, `title: any of them
id: 0d9a5c2e-1111-4222-8333-944455556666
logsource: { category: process_creation, product: windows }
detection:
  a: { CommandLine|contains: 'vssadmin delete' }
  b: { CommandLine|re: '(?i)wmic\\s+shadowcopy\\s+delete' }
  _helper: { Image|endswith: '\\never.exe' }
  condition: 1 of them
level: high
`);
  const files = [own, ...['proc_creation_win_ssh_port_forward.yml', 'proc_creation_win_powershell_base64_frombase64string.yml', 'proc_creation_win_lolbin_extrac32_ads.yml', 'proc_creation_win_susp_cross_user_process_spawn.yml'].map(file)];
  const { h, e } = engine('windows', files);
  const rules: Detector[] = files.flatMap(loadRuleFile);
  const cmds = ['vssadmin delete shadows /all', 'WMIC  ShadowCopy  Delete', 'ssh -R 1:2:3 h', 'extrac32.exe a.cab b.txt:c', 'notepad', 'never', 'powershell FromBase64String', 'wmic shadowcopy list'];
  const seen = new Set<string>();
  for (const cmd of cmds) {
    const doc = h.processDoc(h.chain({ name: 'explorer.exe', userName: 'bob' }, { name: 'x.exe', executable: `C:\\t\\${cmd.split(' ')[0] ?? 'x'}.exe`, commandLine: cmd, userName: 'alice' }));
    const direct = rules.filter((r) => r.test(doc, { os: 'windows', ci: true, now: 0 }) !== undefined).map((r) => r.meta.id).sort();
    const viaEngine = ids(e.evaluate(doc)).sort();
    assert.deepEqual(viaEngine, direct, cmd);
    // C:\t\never.exe matches the _helper selection, which `them` leaves out.
    if (cmd === 'never') assert.ok(!direct.includes('0d9a5c2e-1111-4222-8333-944455556666'), '_helper is not part of them');
    for (const id of direct) seen.add(id);
  }
  assert.ok(seen.has('0d9a5c2e-1111-4222-8333-944455556666') && seen.has(SSH_FORWARD) && seen.has(EXTRAC32), [...seen].join(','));
  assert.ok(rules.find((r) => r.meta.id === SSH_FORWARD)?.literals !== undefined, 'the windash rule has a literal set');
});

test('valid Sigma the agent cannot run is UnsupportedRuleError naming the reason; broken Sigma is a plain ConfigError', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-sigma-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const write = (name: string, detection: string, category = 'process_creation') => {
    const f = join(dir, name);
    writeFileSync(f, `title: t\nid: ${name.replace('.yml', '')}\nlogsource: { category: ${category}, product: windows }\ndetection:\n${detection}\nlevel: low\n`);
    return f;
  };
  const unsupported = (f: string, reason: RegExp) => { assert.throws(() => loadRuleFile(f), (err: unknown) => err instanceof UnsupportedRuleError && err.file === f && reason.test(err.message)); };
  unsupported(write('il.yml', "  sel: { LogonId: '0x3e7' }\n  condition: sel"), /LogonId .* not filled on windows/);
  unsupported(write('dn.yml', "  sel: { DestinationHostname|endswith: '.onion' }\n  condition: sel", 'network_connection'), /destination\.domain/);
  unsupported(write('kw.yml', "  keywords: ['mimikatz']\n  condition: keywords"), /keyword/);
  unsupported(write('agg.yml', "  sel: { Image|endswith: '\\\\a.exe' }\n  condition: sel | count() > 5"), /aggregation/);
  unsupported(write('reg.yml', "  sel: { TargetObject|contains: 'Run' }\n  condition: sel", 'registry_set'), /log source "registry_set"/);
  unsupported(write('mod.yml', "  sel: { CommandLine|expand: '%x%' }\n  condition: sel"), /modifier "expand"/);
  assert.throws(() => loadRuleFile(write('bad.yml', "  sel: { Image|endswith: 'a' }\n  condition: sel and missing")),
    (err: unknown) => !(err instanceof UnsupportedRuleError) && err instanceof Error && /unknown selection "missing"/.test(err.message));
});
