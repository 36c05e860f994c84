import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../../../agent/detect/config.js';
import { createEngine } from '../../../../agent/detect/engine.js';
import { documentText } from '../../../../agent/detect/prefilter.js';
import { buildRule } from '../../../../agent/detect/rules.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import { Harness, ids } from './harness.js';

const rule = (when: unknown) => buildRule({
  spec: { id: 'r-user', name: 'user', description: '', applies_to: 'process', os: [], severity: 'medium', tactic: 'TA0002', technique: 'T1059', references: [], enabled: true, when },
  file: '(test)', index: 0, ruleset: 'test', packVersion: '1',
});

test('Sigma User on a recording whose user.name is already DOMAIN\\name: matched as written, not CORP\\CORP\\alice', () => {
  const h = new Harness('windows');
  const e = createEngine({ config: detectSchema.parse({ builtin_rules: false, baseline: { enabled: false } }), configFile: '(test)', builder: h.builder, logger: silentLogger, baseline: undefined, rules: [rule({ 'qualified.user.name': 'CORP\\alice' })] });
  assert.deepEqual(ids(e.evaluate(h.processDoc(h.chain({ name: 'explorer.exe' }, { name: 'a.exe', userName: 'CORP\\alice', userDomain: 'CORP' })))), ['r-user']);
  assert.deepEqual(ids(e.evaluate(h.processDoc(h.chain({ name: 'explorer.exe' }, { name: 'b.exe', userName: 'alice', userDomain: 'CORP' })))), ['r-user']);
  assert.deepEqual(ids(e.evaluate(h.processDoc(h.chain({ name: 'explorer.exe' }, { name: 'c.exe', userName: 'alice', userDomain: 'LAB' })))), []);
});

test('the prefilter text of a document holds DOMAIN\\name also when read without the engine\'s field cache', () => {
  const h = new Harness('windows');
  const doc = h.processDoc(h.chain({ name: 'services.exe' }, { name: 'tscon.exe', userName: 'SYSTEM', userDomain: 'NT AUTHORITY' }));
  assert.ok(documentText(doc).includes('nt authority\\system'), documentText(doc));
});
