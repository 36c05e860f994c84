import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSchema } from '../../../../agent/detect/config.js';
import { createEngine } from '../../../../agent/detect/engine.js';
import { buildRule } from '../../../../agent/detect/rules.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import { Harness } from './harness.js';

// Alerts copy the trigger's blocks (process, lineage ...) without structuredClone; what a SIEM
// receives must still be what the trigger held, also for a Date or Buffer a document carries.
test('an alert copies the trigger\'s process block as the trigger serializes it (Date, Buffer, nested arrays)', () => {
  const h = new Harness('linux');
  const rule = buildRule({
    spec: { id: 'r-copy', name: 'copy', description: '', applies_to: 'process', os: [], severity: 'medium', tactic: 'TA0002', technique: 'T1059', references: [], enabled: true, when: { 'process.name': 'nc' } },
    file: '(test)', index: 0, ruleset: 'test', packVersion: '1',
  });
  const e = createEngine({ config: detectSchema.parse({ builtin_rules: false, baseline: { enabled: false } }), configFile: '(test)', builder: h.builder, logger: silentLogger, baseline: undefined, rules: [rule] });
  const doc = h.processDoc(h.chain({ name: 'bash' }, { name: 'nc', args: ['nc', '-l'] }));
  const proc = doc.process as Record<string, unknown>;
  proc.start = new Date('2026-01-05T10:00:02.000Z');
  proc.io = { text: Buffer.from('hi') };
  const [alert] = e.evaluate(doc);
  assert.ok(alert);
  const sent = JSON.parse(JSON.stringify(alert)) as { process: Record<string, unknown> };
  assert.equal(sent.process.start, '2026-01-05T10:00:02.000Z');
  assert.deepEqual(sent.process.io, { text: { type: 'Buffer', data: [104, 105] } });
  assert.deepEqual(sent.process.args, ['nc', '-l']);
  (doc.process as { args: string[] }).args.push('changed');
  assert.deepEqual((alert.process as { args: string[] }).args, ['nc', '-l'], 'a copy, not the trigger\'s array');
});
