import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
