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

test('deferred processes: read within the budget, each with its ancestors; existing unless started after the listing', (t) => {
  const { root, proc } = fakeProc(t);
  proc(10, 1, 100);
  proc(11, 10, 200);
  proc(12, 11, 300);
  proc(13, 10, 9_000); // its pid was reused after the listing (at 5,000 ticks)
  const { processes, d } = details(root, 2);
  d.defer(new Map([[10, 'n'], [11, 'n'], [12, 'n'], [13, 'n'], [14, 'n']]), 5_000);
  assert.equal(d.pendingCount, 5);

  // A listener owner's chain is read at once, whatever the budget.
  d.beginPoll();
  assert.equal(d.completeChain(12), true);
  assert.deepEqual([...processes.keys()].sort(), [10, 11, 12], 'the owner and its deferred ancestors');
  assert.ok([10, 11, 12].every((pid) => processes.get(pid)?.existing === true && processes.get(pid)?.detailsPending === undefined));
  assert.equal(processes.get(12)?.ppid, 11);

  d.beginPoll();
  assert.equal(d.drainPending(), true);
  assert.equal(processes.get(13)?.existing, undefined, 'started after the listing: a new process on a reused pid');
  assert.equal(processes.has(14), false, 'pid 14 ended before it was read: forgotten');
  assert.equal(d.pendingCount, 0);
  assert.deepEqual(d.deferred.size, 0);
});

test('deferred processes: at most the budget of reads per poll; a deferred parent of a new process is read with it', (t) => {
  const { root, proc } = fakeProc(t);
  for (let pid = 20; pid < 30; pid++) proc(pid, 1, pid);
  const { processes, d } = details(root, 3);
  d.defer(new Map(Array.from({ length: 10 }, (_, i): [number, string] => [20 + i, 'n'])), 1_000);
  d.beginPoll();
  d.drainPending();
  assert.equal(processes.size, 3, 'three reads this poll');
  assert.equal(d.pendingCount, 7);
  d.beginPoll();
  assert.equal(d.reread(29), true, 'a deferred parent re-read (a new child appeared) is read now');
  assert.equal(processes.get(29)?.existing, true);
  assert.equal(d.pendingCount, 6);
});
