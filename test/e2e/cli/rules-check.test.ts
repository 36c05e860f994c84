import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliPath, fixture, sharedDir } from '../../../testkit/paths.js';

const run = promisify(execFile);

async function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const p = run(process.execPath, [cliPath, ...args], { maxBuffer: 64 * 1024 * 1024 });
    if (input !== undefined) { p.child.stdin?.end(input); }
    const { stdout, stderr } = await p;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Report { files: number; rules: number; loaded: number; unsupported: { file: string; rule?: string; reason: string }[]; invalid: { file: string; reason: string }[] }

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-rules-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  return dir;
}

test('rules check: a directory of SigmaHQ rules loads (exit 0); an unsupported rule makes it 3; a broken one 1; usage errors 2', async (t) => {
  const dir = tempDir(t);
  cpSync(fixture('sigma'), join(dir, 'sigma'), { recursive: true });
  const ok = await cli(['rules', 'check', join(dir, 'sigma'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const r = JSON.parse(ok.stdout) as Report;
  assert.deepEqual({ files: r.files, rules: r.rules, loaded: r.loaded, unsupported: r.unsupported, invalid: r.invalid }, { files: 6, rules: 6, loaded: 6, unsupported: [], invalid: [] });

  // A Sysmon-only field, and a control character in the rule id to show the table stays one line.
  writeFileSync(join(dir, 'sigma', 'rules', 'integrity.yaml'), `title: t
id: "il\\u001b[2J"
logsource: { category: process_creation, product: windows }
detection:
  sel: { LogonId: '0x3e7' }
  condition: sel
level: low
`);
  const partly = await cli(['rules', 'check', join(dir, 'sigma'), '--json']);
  assert.equal(partly.code, 3);
  const p = JSON.parse(partly.stdout) as Report;
  assert.equal(p.loaded, 6);
  assert.equal(p.unsupported.length, 1);
  assert.match(p.unsupported[0]?.reason ?? '', /LogonId .*not filled on windows/);
  assert.equal(p.unsupported[0]?.file, join(dir, 'sigma', 'rules', 'integrity.yaml'));
  const human = await cli(['rules', 'check', join(dir, 'sigma')]);
  assert.equal(human.code, 3);
  assert.ok(!human.stdout.includes('\u001b'), 'control characters are escaped for the terminal');
  assert.match(human.stdout, /il\\x1b\[2J\s+unsupported\s+field LogonId/);
  assert.match(human.stdout, /327f48c1-a6db-4eb8-875a-f6981f1b0183\s+loaded/);
  assert.match(human.stdout, /7 files, 7 rules: 6 loaded \(85\.7 %\), 1 unsupported, 0 invalid/);

  writeFileSync(join(dir, 'broken.yml'), 'title: x\nlogsource: {category: process_creation}\ndetection: {sel: {Image: a}, condition: sel and nothing}\n');
  const bad = await cli(['rules', 'check', join(dir, 'broken.yml'), join(dir, 'sigma'), '--json']);
  assert.equal(bad.code, 1);
  const b = JSON.parse(bad.stdout) as Report;
  assert.equal(b.invalid.length, 1);
  assert.match(b.invalid[0]?.reason ?? '', /unknown selection "nothing"/);

  assert.equal((await cli(['rules', 'check'])).code, 2);
  assert.equal((await cli(['rules', 'check', join(dir, 'missing')])).code, 2);
  assert.equal((await cli(['rules', 'lint', dir])).code, 2);
});

test('replay: a Sysmon-style network connection event raises the SigmaHQ rule\'s alert with rule.* attribution and threat.*', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `detect:\n  builtin_rules: false\n  baseline: { enabled: false }\n  rule_files: [${JSON.stringify(fixture('sigma', 'rules', 'net_connection_win_regasm_network_activity.yml'))}]\n`);
  const event = (ip: string) => JSON.stringify({
    '@timestamp': '2026-03-01T10:00:00.000Z',
    event: { kind: 'event', category: ['network'], type: ['connection', 'start'], action: 'Network connection detected (rule: NetworkConnect)', dataset: 'windows.sysmon_operational' },
    host: { name: 'ws-17', os: { type: 'windows' } },
    process: { pid: 4242, entity_id: '{a1b2}', name: 'RegAsm.exe', executable: 'C:\\Windows\\Microsoft.NET\\Framework\\v4.0.30319\\RegAsm.exe' },
    source: { ip: '10.0.0.5', port: 49852 }, destination: { ip, port: 443 },
    network: { direction: 'egress', transport: 'tcp', type: 'ipv4' },
  });
  const res = await cli(['replay', '--config', config, '--input', '-'], `${event('10.0.0.9')}\n${event('203.0.113.50')}\n`);
  assert.equal(res.code, 0, res.stderr);
  const alerts = res.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, Record<string, unknown> | undefined>);
  assert.equal(alerts.length, 1, res.stdout);
  const a = alerts[0] ?? {};
  assert.deepEqual(a.destination, { ip: '203.0.113.50', port: 443 });
  const rule = a.rule ?? {};
  const ev = a.event ?? {};
  assert.equal(ev.action, 'suspicious_connection');
  assert.equal(rule.id, '0531e43a-d77d-47c2-b89f-5fe50321c805');
  assert.equal(rule.name, 'RegAsm.EXE Initiating Network Connection To Public IP');
  assert.deepEqual(rule.author, ['frack113']);
  assert.equal(rule.license, 'DRL-1.1');
  assert.equal(rule.ruleset, 'sigma');
  assert.equal(rule.reference, 'https://app.any.run/tasks/ec207948-4916-47eb-a0f4-4c6abb2e7668/');
  assert.equal(ev.severity, 47);
  const threat = a.threat as { technique: { id: string[]; subtechnique?: { id: string[] } }; tactic: { id: string[] } };
  assert.deepEqual(threat.technique.id, ['T1218']);
  assert.deepEqual(threat.technique.subtechnique?.id, ['T1218.009']);
  assert.deepEqual(threat.tactic.id, ['TA0005']);
});

test('rules check over the SigmaHQ snapshot in ../shared/sigma: no invalid rule, at least 95 % load (see docs/detection.md)', { skip: !existsSync(join(sharedDir, 'sigma')) && 'no ../shared/sigma' }, async () => {
  const res = await cli(['rules', 'check', join(sharedDir, 'sigma'), '--json']);
  const r = JSON.parse(res.stdout) as Report;
  assert.equal(r.invalid.length, 0, JSON.stringify(r.invalid.slice(0, 3)));
  assert.ok(r.rules >= 1300, `${r.rules} rules`);
  assert.ok(r.loaded / r.rules >= 0.95, `${r.loaded}/${r.rules} loaded`);
});
