// The listing gate decides from /proc/loadavg's task count and last pid whether a poll must list
// /proc. The counters and the per-pid probe are played by the test (the decision is under test;
// test/integration/linux/process-churn.test.ts runs it against this machine's /proc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListingGate, PidRange, PROBE_AT_MOST } from '../../../../../agent/sources/linux/listing-gate.js';
import type { ListingPlan } from '../../../../../agent/sources/linux/listing-gate.js';

/** The pids handed out that a `list` plan names. */
function handedOut(plan: ListingPlan): PidRange {
  assert.equal(plan.kind, 'list');
  return plan.handedOut ?? assert.fail('no pid range');
}

/** A host: tasks by pid -> thread group; counters as /proc/loadavg gives them. */
class Host {
  readonly tasks = new Map<number, number>();
  lastPid = 1000;
  /** Called on every counter read (to change the host between the gate's two reads). */
  onRead: (() => void) | undefined;

  constructor() {
    for (let pid = 1; pid <= 50; pid++) this.tasks.set(pid, pid);
  }

  counters = (): string => {
    this.onRead?.();
    return `${this.tasks.size} ${this.lastPid}`;
  };

  threadGroupOf = (pid: number): number | 'gone' => this.tasks.get(pid) ?? 'gone';

  /** The processes a listing shows (thread group leaders). */
  listing(): number[] {
    return [...this.tasks].filter(([pid, group]) => pid === group).map(([pid]) => pid);
  }

  /** A new process (or a thread of `group`); returns its pid. */
  spawn(group?: number): number {
    const pid = ++this.lastPid;
    this.tasks.set(pid, group ?? pid);
    return pid;
  }

  exit(pid: number): void {
    this.tasks.delete(pid);
  }
}

/** A gate past its first listing (an exact one). */
function settled(host: Host): ListingGate {
  const gate = new ListingGate('/proc', host.counters, host.threadGroupOf);
  assert.equal(gate.plan(false).kind, 'list');
  gate.listed(host.listing());
  // The newest pids without a task at the listing are read once more.
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [], ended: [] });
  return gate;
}

test('short-lived processes that came and went between two polls need no listing', () => {
  const host = new Host();
  const gate = settled(host);
  assert.deepEqual(gate.plan(false), { kind: 'same' });
  for (let i = 0; i < 5; i++) host.exit(host.spawn());
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [], ended: [] });
});

test('a new process is a candidate; a new thread of an old process is not', () => {
  const host = new Host();
  const gate = settled(host);
  host.exit(host.spawn());
  const child = host.spawn();
  host.spawn(7);
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [child], ended: [] });
  // The probe moved the baseline: the next one starts after these pids.
  const next = host.spawn();
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [next], ended: [] });
});

test('any task that ended (a process, a thread) makes the poll list /proc, with the pids handed out since', () => {
  const host = new Host();
  const gate = settled(host);
  host.spawn();
  host.exit(12);
  const range = handedOut(gate.plan(false));
  assert.equal(range.has(1001), true);
  assert.equal(range.has(1000), false);
  assert.equal(range.has(1002), false);
  gate.listed(host.listing());
  // A process that ended while a new one started (the count is unchanged): still a listing.
  const pid = host.spawn();
  host.exit(13);
  assert.equal(pid, 1002);
  assert.equal(gate.plan(false).kind, 'list');
});

test('recent processes that ended are found without a listing; an older one that ended still lists', () => {
  const host = new Host();
  const gate = settled(host);
  // Jobs that live a second or two: seen by one poll, ended by the next.
  const jobs = [host.spawn(), host.spawn(), host.spawn()];
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: jobs, ended: [] });
  // The caller's side: processes it tracks; one reported ended is no longer tracked.
  const tracked = new Set(jobs);
  const recent = { pids: [...jobs].reverse(), ended: (pid: number) => tracked.has(pid) && !host.tasks.has(pid) };
  host.exit(jobs[0] ?? 0);
  host.exit(jobs[2] ?? 0);
  const next = host.spawn();
  const plan = gate.plan(false, recent);
  assert.deepEqual(plan, { kind: 'probed', candidates: [next], ended: [jobs[2], jobs[0]] });
  for (const pid of plan.ended) tracked.delete(pid);
  // An older process ends alongside a recent one: the recent ones do not account for it.
  host.exit(jobs[1] ?? 0);
  host.exit(20);
  assert.equal(gate.plan(false, recent).kind, 'list');
  gate.listed(host.listing());
  // A recent process with a thread that ended with it: two tasks, one process found; list.
  const withThread = host.spawn();
  const thread = host.spawn(withThread);
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [withThread], ended: [] });
  host.exit(withThread);
  host.exit(thread);
  assert.equal(gate.plan(false, { pids: [withThread], ended: (pid) => !host.tasks.has(pid) }).kind, 'list');
});

test('a pid handed out before its task is visible is read again by the next probe, even with unchanged counters', () => {
  const host = new Host();
  const gate = settled(host);
  // The kernel hands a pid out a moment before the task is counted and shows in /proc.
  host.exit(host.spawn());
  const late = ++host.lastPid;
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [], ended: [] });
  // Its task appears while an older process ends: the counters read as at the last poll.
  host.tasks.set(late, late);
  host.exit(20);
  assert.equal(gate.plan(false).kind, 'list');
  gate.listed(host.listing());
  gate.plan(false);
  // Appearing alone, it is a new process like any other.
  host.exit(host.spawn());
  const later = ++host.lastPid;
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [], ended: [] });
  host.tasks.set(later, later);
  assert.deepEqual(gate.plan(false), { kind: 'probed', candidates: [later], ended: [] });
});

test('a read that fails for another reason than "no such task" lists', () => {
  const host = new Host();
  let failing = false;
  const gate = new ListingGate('/proc', host.counters, (pid) => (failing ? undefined : host.threadGroupOf(pid)));
  gate.plan(false);
  gate.listed(host.listing());
  gate.plan(false);
  failing = true;
  host.spawn();
  assert.equal(gate.plan(false).kind, 'list', 'a probed pid could not be read (EMFILE, EACCES)');
  failing = false;
  gate.listed(host.listing());
  gate.plan(false);
  const job = host.spawn();
  gate.plan(false);
  host.exit(job);
  assert.equal(gate.plan(false, { pids: [job], ended: () => undefined }).kind, 'list', 'a recent process could not be read');
});

test('too many pids handed out, or a wrap at pid_max, lists instead of probing', () => {
  const host = new Host();
  const gate = settled(host);
  for (let i = 0; i <= PROBE_AT_MOST; i++) host.exit(host.spawn());
  assert.equal(gate.plan(false).kind, 'list');
  gate.listed(host.listing());
  host.lastPid = 300; // pids wrapped
  host.exit(host.spawn());
  const range = handedOut(gate.plan(false));
  assert.deepEqual([310, 301, 4_000_000].map((pid) => range.has(pid)), [false, true, true]);
});

test('a listing or probe that tasks came or went during is not trusted: the next poll lists', () => {
  const host = new Host();
  const gate = new ListingGate('/proc', host.counters, host.threadGroupOf);
  assert.equal(gate.plan(false).kind, 'list');
  // A process starts while /proc is being listed (between the gate's two reads).
  host.onRead = () => {
    host.onRead = undefined;
    host.spawn();
  };
  gate.listed(host.listing());
  host.exit(host.spawn());
  assert.equal(gate.plan(false).kind, 'list', 'the listing may have missed that process');
  gate.listed(host.listing());
  // A process starts during the probe: the counters read after it differ.
  host.exit(host.spawn());
  let reads = 0;
  host.onRead = () => {
    if (++reads === 2) host.spawn();
  };
  assert.equal(gate.plan(false).kind, 'list');
});

test('busy polls and every 30th poll list; unreadable counters always list', () => {
  const host = new Host();
  const gate = settled(host);
  assert.equal(gate.plan(true).kind, 'list', 'records still to complete');
  gate.listed(host.listing());
  const kinds = Array.from({ length: 30 }, () => gate.plan(false).kind);
  assert.deepEqual(kinds, ['probed', ...Array<string>(28).fill('same'), 'list']);

  const blind = new ListingGate('/proc', () => undefined, host.threadGroupOf);
  assert.equal(blind.active, true);
  for (let i = 0; i < 3; i++) {
    assert.equal(blind.plan(false).kind, 'list');
    blind.listed(host.listing());
  }
});

test('counters in another form than "<tasks> <last pid>" still gate listings, without probes', () => {
  let text = 'a';
  const gate = new ListingGate('/proc', () => text, () => assert.fail('no probe'));
  assert.equal(gate.plan(false).kind, 'list');
  gate.listed([1, 2, 3]);
  assert.equal(gate.plan(false).kind, 'same');
  text = 'b';
  assert.deepEqual(gate.plan(false), { kind: 'list', handedOut: undefined });
});

test('pid ranges wrap at pid_max', () => {
  const r = new PidRange(32_760, 5);
  assert.deepEqual([32_760, 32_761, 32_768, 1, 5, 6].map((p) => r.has(p)), [false, true, true, true, true, false]);
  const empty = new PidRange(7, 7);
  assert.equal(empty.has(7), false);
  assert.equal(empty.has(8), false);
});
