import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleDocuments } from '../../../../agent/ecs/samples.js';
import { getField } from '../../../../agent/ecs/document.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';

test('every document type the agent builds is valid ECS (EcsFlat types, values, category/type pairs)', () => {
  const docs = sampleDocuments();
  const kinds = new Set(docs.map((d) => `${d.event.dataset}/${d.event.action}/${d.event.kind}`));
  assert.ok(kinds.size >= 9, [...kinds].join(' '));
  for (const d of docs) assert.deepEqual(ecsProblems(d), [], `${d.event.dataset} ${d.event.action}`);
});

test('the validator catches what ECS forbids (so the conformance test can fail)', () => {
  const [d] = sampleDocuments();
  assert.ok(d);
  const bad = structuredClone(d) as Record<string, unknown> & typeof d;
  bad.event = { ...d.event, type: ['creation'], kind: 'bogus' as never };
  (bad as Record<string, unknown>).destination = { port: '4444', ip: 'not-an-ip' };
  (bad as Record<string, unknown>).process = { ppid: 1 };
  const problems = ecsProblems(bad).join('\n');
  assert.match(problems, /destination\.port: expected an integer/);
  assert.match(problems, /destination\.ip: expected an IP address/);
  assert.match(problems, /process\.ppid: not an ECS field/);
  assert.match(problems, /event\.kind: "bogus" is not an allowed value/);
  assert.match(problems, /event\.type creation is not expected for event\.category network/);
});

test('listener documents: local side in destination and server, no source/client/direction', () => {
  const d = sampleDocuments()[0];
  assert.ok(d);
  assert.equal(getField(d, 'destination.port'), 4444);
  assert.equal(getField(d, 'server.ip'), '0.0.0.0');
  assert.equal(getField(d, 'network.iana_number'), '6');
  assert.equal(getField(d, 'source'), undefined);
  assert.equal(getField(d, 'client'), undefined);
  assert.equal(getField(d, 'network.direction'), undefined);
  assert.deepEqual(d.event.category, ['network']);
  assert.deepEqual(d.event.type, ['start']);
  assert.equal(getField(d, 'data_stream.dataset'), 'portwarden.network');
  assert.equal(getField(d, 'user.name'), 'www-data');
  assert.deepEqual((getField(d, 'portwarden.lineage') as { name: string }[]).map((a) => a.name), ['sh', 'nginx', 'systemd']);
});

test('a link-local listener keeps its zone out of destination.ip', () => {
  const d = sampleDocuments()[1];
  assert.ok(d);
  assert.equal(getField(d, 'destination.ip'), 'fe80::1');
  assert.equal(getField(d, 'portwarden.listener.interface'), 'eth0');
  assert.equal(getField(d, 'portwarden.listener.scope'), 'link_local');
});

test('listening_stopped carries start, end and a duration in nanoseconds', () => {
  const d = sampleDocuments()[3];
  assert.ok(d);
  assert.equal(d.event.action, 'listening_stopped');
  assert.equal(d.event.duration, 3699 * 1e9);
});
