import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ProcessTable } from '../../../../agent/lineage/process-table.js';
import { entityId } from '../../../../agent/lineage/entity-id.js';
import type { ProcessRecord } from '../../../../agent/sources/types.js';

const rec = (pid: number, ppid: number, startSec: number, name: string, extra: Partial<ProcessRecord> = {}): ProcessRecord => ({
  pid, ppid, startKey: String(startSec * 100), start: new Date(1_700_000_000_000 + startSec * 1000).toISOString(), name, ...extra,
});

test('entity ids: stable for (host, boot, pid, start), different after PID reuse or reboot', () => {
  const a = entityId('h', 'b', 42, '100');
  assert.equal(a, entityId('h', 'b', 42, '100'));
  assert.notEqual(a, entityId('h', 'b', 42, '101'));
  assert.notEqual(a, entityId('h', 'b2', 42, '100'));
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  // The same id across agent versions and Node versions (one-shot crypto.hash or createHash):
  // documents already in the SIEM keep joining.
  assert.equal(a, 'UbvdhEhaEJRZslM2H7yYXJBAu8XHgusfY1c0YsPNWGY');
  assert.equal(a, createHash('sha256').update('h\0b\u000042\u0000100').digest('base64url'));
});

test('ancestry: parent first, captured at creation, kept after the parent exits', () => {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b' });
  t.upsert(rec(1, 0, 0, 'init'));
  t.upsert(rec(10, 1, 5, 'sshd'));
  t.upsert(rec(20, 10, 6, 'bash'));
  const child = t.upsert(rec(30, 20, 7, 'nc')).node;
  t.exit(20, Date.now());
  t.exit(10, Date.now());
  assert.deepEqual(t.ancestors(child).map((n) => n.record.name), ['bash', 'sshd', 'init']);
  assert.equal(child.parent?.entityId, entityId('h', 'b', 20, '600'));
});

test('PID reuse: a parent that started after the child is never linked', () => {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b' });
  t.upsert(rec(500, 0, 10, 'new-owner-of-pid-500'));
  const orphan = t.upsert(rec(600, 500, 5, 'child-of-old-500')).node;
  assert.equal(orphan.parent, undefined);
  const ok = t.upsert(rec(601, 500, 11, 'real-child')).node;
  assert.equal(ok.parent?.record.name, 'new-owner-of-pid-500');
});

test('the same pid with a new start key is a new process; same start with a new image is an exec', () => {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b' });
  const first = t.upsert(rec(7, 1, 1, 'sh', { executable: '/bin/sh' }));
  assert.equal(first.change, 'new');
  const exec = t.upsert(rec(7, 1, 1, 'python3', { executable: '/usr/bin/python3' }));
  assert.equal(exec.change, 'exec');
  assert.equal(exec.node.entityId, first.node.entityId);
  const reused = t.upsert(rec(7, 1, 9, 'other'));
  assert.equal(reused.change, 'new');
  assert.notEqual(reused.node.entityId, first.node.entityId);
  assert.equal(t.get(7)?.record.name, 'other');
});

test('past maxExited exited processes, the oldest exits are forgotten first, however young; a child keeps its parent', () => {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b', maxExited: 3 });
  t.upsert(rec(1, 0, 0, 'init'));
  t.upsert(rec(10, 1, 1, 'bash'));
  const child = t.upsert(rec(11, 10, 2, 'make')).node;
  for (let pid = 20; pid < 25; pid++) t.upsert(rec(pid, 11, pid, 'cc'));
  t.exit(10, 1_000);
  for (let pid = 20; pid < 25; pid++) t.exit(pid, 1_000 + pid);
  assert.equal(t.prune(2_000), 3, 'six exited, three kept');
  assert.equal(t.find(10, '100'), undefined, 'the oldest exit went first');
  assert.equal(t.find(24, '2400')?.record.name, 'cc');
  assert.deepEqual(t.ancestors(child).map((n) => n.record.name), ['bash', 'init']);
});

test('exited processes are kept for at least 10 minutes, then pruned', () => {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b', retentionMs: 1 });
  t.upsert(rec(1, 0, 0, 'init'));
  t.exit(1, 1_000);
  assert.equal(t.prune(1_000 + 9 * 60_000), 0);
  assert.equal(t.find(1, '0')?.record.name, 'init');
  assert.equal(t.prune(1_000 + 11 * 60_000), 1);
  assert.equal(t.find(1, '0'), undefined);
});

const min = 60_000;

/** A table keeping exited processes 10 minutes, with processes `from`..`to - 1` running (named p<pid>). */
function runningTable(from: number, to: number): ProcessTable {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b', retentionMs: 10 * min });
  for (let pid = from; pid < to; pid++) t.upsert(rec(pid, 1, pid, `p${pid}`));
  return t;
}

test('pruning forgets exited processes in the order they exited, a reused pid\'s predecessor included', () => {
  const t = runningTable(10, 15);
  t.exit(10, 1 * min);
  t.exit(11, 2 * min);
  const before = Date.now();
  t.upsert(rec(12, 1, 99, 'reused')); // pid 12 now names a new process: the old one exited
  t.exit(13, before + 20 * min);
  assert.equal(t.prune(11.5 * min), 1, 'only the first exit is past the window');
  assert.equal(t.find(10, '1000'), undefined);
  assert.equal(t.find(11, '1100')?.record.name, 'p11');
  assert.equal(t.prune(before + 10.5 * min), 2, 'the second exit and the reused pid\'s predecessor');
  assert.equal(t.find(12, '1200'), undefined);
  assert.equal(t.find(12, '9900')?.record.name, 'reused', 'the live process on the reused pid stays');
  assert.equal(t.find(13, '1300')?.record.name, 'p13');
  assert.equal(t.find(14, '1400')?.record.name, 'p14', 'live processes are never pruned');
  assert.equal(t.prune(before + 31 * min), 1);
  assert.equal(t.size, 2);
});

test('exits after the wall clock stepped back are pruned on time, not held back by the ones before the step', () => {
  const t = runningTable(20, 24);
  t.exit(20, 100 * min);
  t.exit(21, 101 * min);
  // The clock steps back an hour.
  t.exit(22, 41 * min);
  t.exit(23, 42 * min);
  assert.equal(t.prune(51.5 * min), 1);
  assert.equal(t.find(22, '2200'), undefined);
  assert.equal(t.find(23, '2300')?.record.name, 'p23');
  assert.equal(t.prune(52.5 * min), 1);
  assert.equal(t.prune(110.5 * min), 1);
  assert.equal(t.find(21, '2100')?.record.name, 'p21');
  assert.equal(t.prune(111.5 * min), 1);
  assert.equal(t.size, 0);
});

test('a parent cycle (corrupt ppids) ends the ancestry instead of looping', () => {
  const t = new ProcessTable({ hostId: 'h', bootId: 'b' });
  const a = t.upsert(rec(2, 3, 1, 'a')).node;
  t.upsert(rec(3, 2, 1, 'b'));
  assert.ok(t.ancestors(a).length <= 32);
});
