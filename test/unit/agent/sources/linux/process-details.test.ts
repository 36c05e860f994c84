// The first scan's deferred processes: read later, ancestors with them, and `existing` only for the
// processes that were running at the listing. /proc is played by a directory of stat files.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessDetails } from '../../../../../agent/sources/linux/process-details.js';
import { UserNames } from '../../../../../agent/sources/linux/process-reader.js';
import type { ProcessRecord } from '../../../../../agent/sources/types.js';

function fakeProc(t: TestContext): { root: string; proc: (pid: number, ppid: number, startTicks: number) => void } {
  const root = mkdtempSync(join(tmpdir(), 'pw-proc-'));
  t.after(() => { rmSync(root, { recursive: true, force: true }); });
  const rest = (ppid: number, start: number) => ['S', ppid, ppid, ppid, ...Array.from({ length: 15 }, () => 0), start, 0, 0].join(' ');
  return {
    root,
    proc: (pid, ppid, startTicks) => {
      mkdirSync(join(root, String(pid)), { recursive: true });
      writeFileSync(join(root, String(pid), 'stat'), `${pid} (p${pid}) ${rest(ppid, startTicks)}\n`);
    },
  };
}

function details(root: string, budget: number): { processes: Map<number, ProcessRecord>; d: ProcessDetails } {
  const processes = new Map<number, ProcessRecord>();
  const d = new ProcessDetails(processes, { procRoot: root, bootTimeMs: 0, clockTicks: 100, users: new UserNames(join(root, 'passwd')) }, budget);
  return { processes, d };
}

/** A light record as the first poll reads it (stat, uid, netns). */
function light(pid: number, ppid: number, startTicks: number): ProcessRecord {
  return { pid, ppid, startKey: String(startTicks), start: new Date(startTicks * 10).toISOString(), name: `p${pid}`, netns: 'n', detailsPending: true };
}

test('deferred processes: read within the budget, each with its ancestors; existing when still the process listed', (t) => {
  const { root, proc } = fakeProc(t);
  proc(10, 1, 100);
  proc(11, 10, 200);
  proc(12, 11, 300);
  proc(13, 10, 9_000); // its pid was reused after the listing: another process now
  proc(15, 1, 400); // its parent (14) exited after the listing: reparented to 1
  const { processes, d } = details(root, 2);
  d.defer([light(10, 1, 100), light(11, 10, 200), light(12, 11, 300), light(13, 10, 500), light(14, 1, 350), light(15, 14, 400)]);
  assert.equal(d.pendingCount, 6);
  assert.equal(processes.size, 0, 'kept out of the table until read');
  assert.equal(d.deferred.get(12)?.netns, 'n');

  // A listener owner's chain is read at once, whatever the budget.
  d.beginPoll();
  assert.equal(d.completeChain(12), true);
  assert.deepEqual([...processes.keys()].sort(), [10, 11, 12], 'the owner and its deferred ancestors');
  assert.ok([10, 11, 12].every((pid) => processes.get(pid)?.existing === true && processes.get(pid)?.detailsPending === undefined));
  assert.equal(processes.get(12)?.ppid, 11);

  d.beginPoll();
  d.drainPending();
  d.beginPoll();
  d.drainPending();
  const reused = processes.get(13);
  assert.equal(reused?.existing, undefined, 'a new process on a reused pid is no already-running one');
  assert.equal(reused?.startKey, '9000');
  assert.deepEqual(d.takeReused(), [13], 'and is handed to the poll as a new pid');
  assert.deepEqual(d.takeReused(), []);
  assert.equal(processes.get(15)?.existing, true);
  assert.equal(processes.get(15)?.ppid, 14, 'the parent it had when the agent started, not the reaper');
  assert.equal(processes.has(14), false, 'pid 14 ended before it was read: forgotten');
  assert.equal(d.pendingCount, 0);
});

test('deferred processes: at most the budget of reads per poll; a deferred parent re-read for a new child comes with its ancestors', (t) => {
  const { root, proc } = fakeProc(t);
  // 20-26 children of 1; 27 <- 28 <- 29 a chain, read last in pid order.
  const parentOf = (pid: number) => (pid >= 28 ? pid - 1 : 1);
  for (let pid = 20; pid < 30; pid++) proc(pid, parentOf(pid), pid);
  const { processes, d } = details(root, 3);
  d.defer(Array.from({ length: 10 }, (_, i) => light(20 + i, parentOf(20 + i), 20 + i)));
  d.beginPoll();
  d.drainPending();
  assert.deepEqual([...processes.keys()], [20, 21, 22], 'three reads this poll, in pid order');
  assert.equal(d.pendingCount, 7);
  d.beginPoll();
  assert.equal(d.reread(29), true, 'a deferred parent of a new process is read now');
  assert.equal(processes.get(29)?.existing, true);
  assert.ok(processes.has(28) && processes.has(27), 'with its deferred ancestors');
  assert.equal(d.pendingCount, 4);
});

test('deferred processes: a pid that names another process by a later listing is read as new', (t) => {
  const { root, proc } = fakeProc(t);
  proc(40, 1, 9_000);
  const { processes, d } = details(root, 10);
  d.defer([light(40, 1, 100)]);
  d.beginPoll();
  const found: number[] = [];
  d.checkReuse([40], found);
  assert.deepEqual(found, [40]);
  assert.equal(processes.get(40)?.existing, undefined);
  assert.equal(d.pendingCount, 0);
});
