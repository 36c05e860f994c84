// What a reload applies in place and what waits for a restart; how overlays merge over the local config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../../agent/app/config.js';
import { mergeOverlays } from '../../../../agent/app/overlay.js';
import { catalogueFrom, sensitiveEntry } from '../../../../agent/detect/port-catalogue.js';
import type { OverlayBundle } from '../../../../agent/app/overlay.js';
import { planReload } from '../../../../agent/app/reload-plan.js';
import type { RuleSource } from '../../../../agent/detect/rules.js';

const base = {
  interval: '1s',
  outputs: [{ type: 'file', name: 'a', path: 'a.ndjson' }, { type: 'file', name: 'b', path: 'b.ndjson' }],
};
const load = (over: Record<string, unknown> = {}) => parseConfig({ ...base, ...over }, 'agent.yaml');

test('planReload: an unchanged config applies nothing', () => {
  const p = planReload(load(), load(), 'd', 'd');
  assert.deepEqual([p.applied, p.restartRequired, p.outputs], [[], [], []]);
});

test('planReload: a changed output restarts that output only; added and removed outputs are started and drained', () => {
  const next = load({ outputs: [{ type: 'file', name: 'a', path: 'a.ndjson' }, { type: 'file', name: 'b', path: 'b2.ndjson' }, { type: 'stdout' }] });
  const p = planReload(load(), next, 'd', 'd');
  assert.deepEqual([p.outputs, p.added, p.removed], [['b'], ['stdout'], []]);
  assert.deepEqual(p.applied, ['outputs.b', 'outputs.stdout (added)']);
  assert.deepEqual(p.restartRequired, []);
  const fewer = planReload(load(), load({ outputs: [{ type: 'file', name: 'a', path: 'a.ndjson' }] }), 'd', 'd');
  assert.deepEqual([fewer.outputs, fewer.removed, fewer.restartRequired], [[], ['b'], []]);
});

test('planReload: restart-only keys are reported, the rest applied', () => {
  const p = planReload(load(), load({ interval: '2s', state_dir: '/var/lib/elsewhere', heartbeat: { schedule: '* * * * *' }, events: { process: true } }), 'd', 'd');
  assert.deepEqual(p.restartRequired, ['state_dir', 'interval']);
  assert.deepEqual(p.applied, ['events', 'heartbeat']);
  assert.ok(p.events && p.heartbeat && !p.inventory && !p.detection);
});

test('planReload: detection counts as changed when its effective inputs differ, even with the same config file', () => {
  const p = planReload(load(), load(), { rules: 1 }, { rules: 2 });
  assert.deepEqual(p.applied, ['detect (rule files or overlays)']);
  assert.equal(planReload(load(), load({ detect: { disabled_rules: ['x'] } }), 1, 2).applied[0], 'detect');
});

const rule = (id: string, file: string): RuleSource => ({
  spec: { id, name: id, description: '', severity: 'low', tactic: 'TA0002', technique: 'T1059', os: [], when: {} } as unknown as RuleSource['spec'],
  file, index: 0, ruleset: 'r', packVersion: '1',
});

test('mergeOverlays: rules replace local ones by id, lists append, disabled ids join; versions by overlay name', () => {
  const detect = load({ detect: { disabled_rules: ['a'], allowlist: [{ ports: [1] }], sensitive_ports: [{ ports: [9], service: 'x' }] } }).config.detect;
  const bundle: OverlayBundle = {
    version: 'v7', rules: [rule('r1', 'policy'), rule('r3', 'policy')],
    allowlist: [{ rules: [], ports: [2], programs: [], parents: [], users: [], scopes: [], cidrs: [] }],
    sensitivePorts: [], disabledRules: ['a', 'b'],
  };
  const m = mergeOverlays(detect, [rule('r1', 'local'), rule('r2', 'local')], [['policy', bundle]]);
  assert.deepEqual(m.rules.map((r) => `${r.spec.id}@${r.file}`), ['r2@local', 'r1@policy', 'r3@policy']);
  assert.deepEqual(m.detect.allowlist.map((e) => e.ports), [[1], [2]]);
  assert.deepEqual(m.detect.disabled_rules, ['a', 'b']);
  assert.equal(m.detect.sensitive_ports.length, 1);
  assert.deepEqual(m.versions, { policy: 'v7' });
  assert.deepEqual(detect.disabled_rules, ['a'], 'the local config is left as it was');
});

test('mergeOverlays: a bundle\'s sensitive port replaces the local entry of the same transport+port, other local ports stay', () => {
  const detect = load({ detect: { sensitive_ports: [{ ports: [9200, 9300], service: 'local-es', expected_owners: { linux: ['java'] } }] } }).config.detect;
  const fleetEs = { ports: [9200], service: 'fleet-es', transport: 'tcp' as const, tactic: 'TA0001', technique: 'T1133', exposure: 'alert' as const, expected_owners: { linux: ['opensearch'] } };
  const bundle: OverlayBundle = { version: 'v8', rules: [], allowlist: [], sensitivePorts: [fleetEs], disabledRules: [] };
  const m = mergeOverlays(detect, [], [['policy', bundle]]);
  const entry = sensitiveEntry(catalogueFrom(m.detect.sensitive_ports), 9200, 'tcp');
  assert.equal(entry?.service, 'fleet-es');
  assert.equal(sensitiveEntry(catalogueFrom(m.detect.sensitive_ports), 9300, 'tcp')?.service, 'local-es');
});
