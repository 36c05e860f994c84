import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baseline } from '../../../../agent/detect/baseline.js';
import { detectSchema } from '../../../../agent/detect/config.js';
import { createDetectionEngine } from '../../../../agent/detect/index.js';
import { memoryLogger, silentLogger } from '../../../../agent/log/logger.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { Harness, ids } from './harness.js';

const HOUR = 3600_000;

test('during learning nothing is raised; afterwards first-seen listeners and pairs are low-severity alerts, once', () => {
  const h = new Harness('linux');
  const baseline = h.baseline(HOUR);
  const e = h.engine({}, baseline);
  const t0 = Date.parse('2026-01-05T10:00:00Z');
  const at = (doc: ReturnType<Harness['processDoc']>, ms: number) => ({ ...doc, '@timestamp': new Date(ms).toISOString() });
  const app = h.chain({ name: 'systemd' }, { name: 'myapp', executable: '/opt/myapp/bin/myapp' });
  const child = h.spawn(app, { name: 'helper', executable: '/opt/myapp/bin/helper' });
  assert.deepEqual(e.evaluate(at(h.listenerDoc(app, '0.0.0.0', 8080), t0)), []);
  assert.deepEqual(e.evaluate(at(h.listenerDoc(app, '0.0.0.0', 51_234), t0)), []);
  assert.deepEqual(e.evaluate(at(h.processDoc(child), t0 + 60_000)), []);
  // After the window: the learned ones stay quiet, new ones raise one low alert each.
  const again = h.chain({ name: 'systemd' }, { name: 'myapp', executable: '/opt/myapp/bin/myapp' });
  assert.deepEqual(e.evaluate(at(h.listenerDoc(again, '0.0.0.0', 8080), t0 + 2 * HOUR)), []);
  assert.deepEqual(e.evaluate(at(h.listenerDoc(again, '0.0.0.0', 49_999), t0 + 2 * HOUR)), [], 'ephemeral ports (>= 32768) are learned as one bucket');
  const newPort = e.evaluate(at(h.listenerDoc(again, '0.0.0.0', 9090), t0 + 2 * HOUR));
  assert.deepEqual(ids(newPort), ['pw-baseline-new-listener']);
  assert.equal(newPort[0]?.event.severity, 21);
  assert.deepEqual(ecsProblems(newPort[0]), []);
  const exposed = e.evaluate(at(h.listenerDoc(again, '10.0.0.1', 8080), t0 + 2 * HOUR));
  assert.deepEqual(ids(exposed), ['pw-baseline-new-listener'], 'same program and port, new scope');
  const rare = h.spawn(again, { name: 'curl', executable: '/usr/bin/curl' });
  assert.deepEqual(ids(e.evaluate(at(h.processDoc(rare), t0 + 3 * HOUR))), ['pw-baseline-rare-parent-child']);
  const rare2 = h.spawn(again, { name: 'curl', executable: '/usr/bin/curl' });
  assert.deepEqual(e.evaluate(at(h.processDoc(rare2), t0 + 3 * HOUR)), [], 'a pair is news once');
});

test('persisted atomically in <stateDir>/baseline.json on shutdown; reloaded by the next engine; import seeds a fleet', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-baseline-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const h = new Harness('linux');
  const config = detectSchema.parse({ baseline: { learning: '1h' } });
  const mk = () => createDetectionEngine({ config, configFile: '(test)', stateDir: dir, builder: h.builder, logger: silentLogger });
  const t0 = Date.parse('2026-01-05T10:00:00Z');
  const e1 = mk();
  await e1.start();
  const app = h.chain({ name: 'myapp', executable: '/opt/myapp/bin/myapp' });
  e1.evaluate({ ...h.listenerDoc(app, '0.0.0.0', 8080), '@timestamp': new Date(t0).toISOString() });
  await e1.shutdown();
  const saved = JSON.parse(readFileSync(join(dir, 'baseline.json'), 'utf8')) as { version: number; hosts: Record<string, { listeners: Record<string, string> }> };
  assert.equal(saved.version, 1);
  assert.deepEqual(Object.keys(saved.hosts['host-linux']?.listeners ?? {}), ['/opt/myapp/bin/myapp|tcp/8080|any']);

  const e2 = mk();
  const later = (port: number) => ({ ...h.listenerDoc(app, '0.0.0.0', port), '@timestamp': new Date(t0 + 2 * HOUR).toISOString() });
  assert.deepEqual(e2.evaluate(later(8080)), [], 'learned before the restart');
  // A golden host's export, imported here, makes its listeners known.
  const golden = new Baseline({ learningMs: HOUR, maxEntries: 100, logger: silentLogger });
  golden.observe('golden', 'listeners', '/opt/myapp/bin/myapp|tcp/9443|any', t0);
  const b = new Baseline({ file: join(dir, 'baseline.json'), learningMs: HOUR, maxEntries: 100, logger: silentLogger });
  assert.equal(b.merge(golden.toJSON(), true), 1);
  b.save();
  const e3 = mk();
  assert.deepEqual(e3.evaluate(later(9443)), [], 'imported from the golden host');
  assert.deepEqual(ids(e3.evaluate(later(9444))), ['pw-baseline-new-listener']);
});

test('a corrupt baseline file is reported and learning starts again', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-baseline-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeFileSync(join(dir, 'baseline.json'), '{"version":1,"hosts":');
  const log = memoryLogger();
  const b = new Baseline({ file: join(dir, 'baseline.json'), learningMs: HOUR, maxEntries: 100, logger: log });
  assert.ok(log.records.some((r) => r.level === 'warn' && /unreadable/.test(r.message)));
  assert.equal(b.observe('h', 'pairs', 'a>b', Date.now()), 'learning');
});
