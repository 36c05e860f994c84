import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateBundle } from '../../../../agent/policy/bundle.js';
import { ConfigError } from '../../../../agent/util/errors.js';

const base = { format: 'portwarden-policy/1', version: 'v7', created: '2026-12-07T00:00:00.000Z' };
const rule = (id: string) => `rules:\n  - id: ${id}\n    name: n\n    description: d\n    applies_to: process\n    severity: low\n    tactic: TA0002\n    technique: T1059\n    when: { process.name: x }\n`;

function refused(content: unknown, re: RegExp): void {
  assert.throws(() => validateBundle(Buffer.from(JSON.stringify(content)), 'policy bundle v7'), (err: Error) => err instanceof ConfigError && re.test(err.message), JSON.stringify(content).slice(0, 80));
}

test('an empty bundle is valid and contributes nothing', () => {
  const o = validateBundle(Buffer.from(JSON.stringify(base)), 'b');
  assert.deepEqual([o.rules, o.allowlist, o.sensitivePorts, o.disabledRules], [[], [], [], []]);
});

test('bundle content errors name the bundle, the key path and what was expected', () => {
  refused({ ...base, format: 'other/1' }, /policy bundle v7: format: /);
  refused({ ...base, extra: 1 }, /Unrecognized key.*extra/i);
  refused({ ...base, allowlist: [{ cidrs: ['10.0.0.0/33'] }] }, /allowlist\[0\]\.cidrs: .*expected a CIDR/);
  refused({ ...base, sensitive_ports: [{ ports: [70000], service: 'x' }] }, /sensitive_ports\[0\]\.ports\[0\]/);
  refused({ ...base, rules: [{ name: 'a.yaml', text: 'rules: [' }] }, /rules\[0\] \(a\.yaml\).*invalid YAML/);
  refused({ ...base, rules: [{ name: 'a.yaml', text: rule('dup') }, { name: 'b.yaml', text: rule('dup') }] }, /duplicate rule id \(already defined in a\.yaml\)/);
});
