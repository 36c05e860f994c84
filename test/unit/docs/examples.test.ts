import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleEvents, exampleSnapshot } from '../../../agent/docs/examples.js';
import type { ExampleSnapshot } from '../../../agent/docs/examples.js';
import { sampleChain, sampleHost } from '../../../agent/ecs/samples.js';
import { repoRoot } from '../../../testkit/paths.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';

const recorded = JSON.parse(readFileSync(join(repoRoot, 'docs', 'examples', 'host-snapshot.json'), 'utf8')) as ExampleSnapshot;

test('the README examples are the recorded snapshot through the real builders: the same every time, valid ECS', () => {
  const a = exampleEvents(recorded);
  assert.deepEqual(exampleEvents(structuredClone(recorded)), a);
  assert.deepEqual(a.map((d) => d.event.action), ['listening_existing', 'already_running']);
  const owner = recorded.processes[0];
  assert.equal((a[0]?.process as { pid: number }).pid, owner?.pid);
  assert.equal((a[0]?.destination as { port: number }).port, recorded.listener.port);
  assert.deepEqual(a[0]?.host, recorded.host);
  for (const d of a) assert.deepEqual(ecsProblems(d), []);
});

test('a capture picks a well-known daemon\'s listener and records its ancestry without pid 1', () => {
  const processes = new Map(sampleChain.map((p) => [p.pid, p]));
  const listener = (port: number, owner: number) => ({ netns: 'n', transport: 'tcp' as const, family: 'ipv4' as const, address: '0.0.0.0', port, inode: 1, owners: [owner] });
  const snap = exampleSnapshot(sampleHost, {
    takenAt: new Date('2026-11-27T10:00:00Z'), warnings: [], processes,
    listeners: [listener(4444, 4243), listener(80, 812), { ...listener(22, 99), owners: [] }],
  });
  assert.equal(snap.listener.port, 80);
  assert.deepEqual(snap.processes.map((p) => p.name), ['nginx']);
  assert.equal(snap.capturedAt, '2026-11-27T10:00:00.000Z');
});
