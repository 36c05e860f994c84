import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectSchema } from '../../../../agent/detect/config.js';
import { readRuleSources, ruleFilesInDir } from '../../../../agent/detect/load.js';
import { parseRulePack } from '../../../../agent/detect/rule-schema.js';
import { ConfigError } from '../../../../agent/util/errors.js';
import { Harness, ids } from './harness.js';

const GOOD = `
ruleset: acme
rules:
  - id: acme-1
    name: Backup tool spawned a shell
    severity: medium
    tactic: TA0002
    technique: T1059.004
    when:
      process.parent.name: acme-backup
      process.name: [sh, bash]
    unless:
      process.command_line: { contains: --dry-run }
`;

function expectConfigError(text: string, key: RegExp): void {
  assert.throws(() => parseRulePack(text, 'rules/acme.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.file, 'rules/acme.yaml');
    assert.match(err.keyPath, key);
    return true;
  });
}

test('rule errors name the file, the rule and the key', () => {
  expectConfigError(GOOD.replace('severity: medium', 'severity: urgent'), /^rules\[0\] \(id acme-1\)\.severity$/);
  expectConfigError(GOOD.replace('technique: T1059.004', 'technique: Shell'), /^rules\[0\] \(id acme-1\)\.technique$/);
  expectConfigError(GOOD.replace('{ contains: --dry-run }', '{ contain: --dry-run }'), /^rules\[0\] \(id acme-1\)\.unless\.process\.command_line\.contain$/);
  expectConfigError(GOOD.replace('process.name: [sh, bash]', 'process.name: { regex: "([" }'), /^rules\[0\] \(id acme-1\)\.when\.process\.name\.regex$/);
  expectConfigError(GOOD.replace('    severity: medium\n', '    severity: medium\n    colour: red\n'), /^rules\[0\] \(id acme-1\)$/);
  expectConfigError(`${GOOD}${GOOD.split('rules:')[1] ?? ''}`, /^rules\[1\] \(id acme-1\)\.id$/);
  assert.throws(() => parseRulePack('rules: [ {', 'x.yaml'), /x\.yaml: \(top level\): invalid YAML/);
});

test('a user rule file is loaded relative to the config file and fires with its own metadata', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-rules-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeFileSync(join(dir, 'acme.yaml'), GOOD);
  writeFileSync(join(dir, 'portwarden.yaml'), '');
  const h = new Harness('linux');
  const eng = h.engine({ rule_files: ['acme.yaml'] }, undefined, join(dir, 'portwarden.yaml'));
  const shell = h.chain({ name: 'acme-backup', executable: '/opt/acme/bin/acme-backup' }, { name: 'sh', commandLine: 'sh -c tar cf x' });
  const alerts = eng.evaluate(h.processDoc(shell));
  assert.deepEqual(ids(alerts), ['acme-1']);
  assert.equal((alerts[0]?.rule as { ruleset: string }).ruleset, 'acme');
  const parent = h.chain({ name: 'acme-backup' });
  const dry = h.spawn(parent, { name: 'bash', commandLine: 'bash --dry-run' });
  assert.deepEqual(ids(eng.evaluate(h.processDoc(dry))), [], 'the exception holds');
  const disabled = h.engine({ rule_files: [join(dir, 'acme.yaml')], disabled_rules: ['acme-1'] });
  assert.deepEqual(ids(disabled.evaluate(h.processDoc(shell))), []);
});

test('a missing rule file is a ConfigError naming the file', () => {
  const h = new Harness('linux');
  assert.throws(() => h.engine({ rule_files: ['/nonexistent/rules.yaml'] }), (e: unknown) => e instanceof ConfigError && e.file === '/nonexistent/rules.yaml');
});

const SIGMA = (id: string, marker: string): string => `title: ${marker} probe
id: ${id}
status: test
logsource: { category: process_creation, product: linux }
detection:
  sel: { CommandLine|contains: ${marker} }
  condition: sel
level: high
`;

test('a rule_files entry that is a directory loads every *.yml/*.yaml below it, sorted, Sigma and native; dot dirs, other files and dir links are skipped', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-rules-dir-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const rules = join(dir, 'rules.d');
  mkdirSync(join(rules, 'sigma', 'linux'), { recursive: true });
  mkdirSync(join(rules, '.github', 'workflows'), { recursive: true });
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(rules, 'acme.yaml'), GOOD);
  writeFileSync(join(rules, 'sigma', 'linux', 'b.yml'), SIGMA('00000000-0000-4000-8000-00000000000b', 'zz-probe-b'));
  writeFileSync(join(rules, 'sigma', 'a.YML'), SIGMA('00000000-0000-4000-8000-00000000000a', 'zz-probe-a'));
  writeFileSync(join(rules, 'README.md'), '# not a rule\n');
  writeFileSync(join(rules, '.github', 'workflows', 'ci.yml'), 'on: push\njobs: {}\n');
  writeFileSync(join(dir, 'elsewhere', 'linked.yaml'), SIGMA('00000000-0000-4000-8000-00000000000c', 'zz-probe-c'));
  symlinkSync(join(dir, 'elsewhere', 'linked.yaml'), join(rules, 'linked.yaml'));
  symlinkSync(join(dir, 'elsewhere'), join(rules, 'dirlink'));
  symlinkSync(join(dir, 'nowhere.yaml'), join(rules, 'dangling.yaml'));
  writeFileSync(join(dir, 'portwarden.yaml'), '');

  const sources = readRuleSources(detectSchema.parse({ builtin_rules: false, rule_files: ['rules.d'] }), join(dir, 'portwarden.yaml'));
  assert.deepEqual(sources.map((s) => s.spec.id), [
    'acme-1', '00000000-0000-4000-8000-00000000000c', '00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b',
  ]);
  assert.deepEqual(ruleFilesInDir(rules).map((f) => f.slice(rules.length + 1)), ['acme.yaml', 'linked.yaml', 'sigma/a.YML', 'sigma/linux/b.yml']);

  const h = new Harness('linux');
  const eng = h.engine({ rule_files: ['rules.d'] }, undefined, join(dir, 'portwarden.yaml'));
  const shell = h.chain({ name: 'bash', commandLine: 'bash -c "echo zz-probe-b"' });
  assert.deepEqual(ids(eng.evaluate(h.processDoc(shell))), ['00000000-0000-4000-8000-00000000000b']);
});

test('a bad rule in a rule directory names that file; an unreadable directory names the config key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-rules-dir-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  mkdirSync(join(dir, 'rules.d'));
  writeFileSync(join(dir, 'rules.d', 'ok.yaml'), GOOD);
  writeFileSync(join(dir, 'rules.d', 'zz-bad.yaml'), GOOD.replace('acme-1', 'acme-2').replace('severity: medium', 'severity: urgent'));
  const cfg = join(dir, 'portwarden.yaml');
  writeFileSync(cfg, '');
  const parse = (entries: string[]) => detectSchema.parse({ builtin_rules: false, rule_files: entries });
  assert.throws(() => readRuleSources(parse(['rules.d']), cfg), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, join(dir, 'rules.d', 'zz-bad.yaml'));
    assert.match(e.keyPath, /^rules\[0\] \(id acme-2\)\.severity$/);
    return true;
  });
  writeFileSync(join(dir, 'rules.d', 'zz-bad.yaml'), GOOD);
  assert.throws(() => readRuleSources(parse(['rules.d']), cfg), /duplicate rule id/);
  rmSync(join(dir, 'rules.d', 'zz-bad.yaml'));
  if (process.getuid?.() !== 0) {
    chmodSync(join(dir, 'rules.d'), 0o000);
    t.after(() => { chmodSync(join(dir, 'rules.d'), 0o700); });
    assert.throws(() => readRuleSources(parse(['x.yaml', 'rules.d']), cfg), (e: unknown) => e instanceof ConfigError && e.keyPath === 'detect.rule_files[1]');
  }
  assert.deepEqual(readRuleSources(parse(['rules.d']), cfg).map((s) => s.spec.id), ['acme-1']);
});
