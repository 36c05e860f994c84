// Who holds which listening socket, kept up to date from the processes that come and go. The fd
// tables are played by the test (the bookkeeping is under test; the real walks are checked against
// this machine in test/integration/linux/light-scan.test.ts and process-churn.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketOwners } from '../../../../../agent/sources/linux/socket-owners.js';
import type { FdWalker } from '../../../../../agent/sources/linux/socket-owners.js';
import type { ProcessRecord } from '../../../../../agent/sources/types.js';

class Host {
  /** pid -> socket inodes in its fd table */
  readonly fds = new Map<number, number[]>();
  readonly processes = new Map<number, ProcessRecord>();
  now = 1_000_000;

  readonly walker: FdWalker = (pids, wanted) => ({
    pairs: pids.flatMap((pid) => (this.fds.get(pid) ?? []).filter((ino) => wanted.has(ino)).map((ino): [number, number] => [pid, ino])),
    denied: [],
    read: pids.length,
  });

  start(pid: number, holds: number[] = []): number {
    this.processes.set(pid, { pid, ppid: 1, startKey: String(this.now), start: new Date(this.now).toISOString(), name: `p${pid}` });
    this.fds.set(pid, holds);
    this.now += 1000;
    return pid;
  }

  end(pid: number): void {
    this.processes.delete(pid);
    this.fds.delete(pid);
  }
}

/** One poll as the Linux source makes it when the listening sockets did not change. */
function poll(owners: SocketOwners, host: Host, listening: Map<number, undefined>, newPids: number[], gone: number[]): Map<number, number[]> | 'unchanged' {
  const newHolders = owners.scanNew(listening, newPids);
  if (!owners.affectedBy(newHolders, newPids, gone)) return 'unchanged';
  return owners.resolve(listening, host.processes, newPids);
}

/** A pre-fork server: a master (pid 10) and a worker (11) holding socket 100, as a first poll finds them. */
function preforkServer(): { host: Host; owners: SocketOwners; listening: Map<number, undefined>; master: number; worker: number } {
  const host = new Host();
  const owners = new SocketOwners('/proc', () => host.now, host.walker);
  const listening = new Map([[100, undefined]]);
  const master = host.start(10, [100]);
  const worker = host.start(11, [100]);
  owners.scanNew(listening, [master, worker]);
  assert.deepEqual(owners.resolve(listening, host.processes, [master, worker]).get(100), [master, worker]);
  return { host, owners, listening, master, worker };
}

test('a recycled worker: the old one exits and a new one inherits the socket between two polls', () => {
  const { host, owners, listening, master, worker } = preforkServer();

  assert.equal(poll(owners, host, listening, [host.start(12)], []), 'unchanged', 'an unrelated process');
  host.end(worker);
  const next = host.start(13, [100]);
  const r = poll(owners, host, listening, [next], [worker]);
  assert.notEqual(r, 'unchanged');
  assert.deepEqual(r === 'unchanged' ? [] : r.get(100), [master, next], 'the new worker is a holder, the old one is not');
});

test('a holder\'s pid taken by a process that holds nothing is no longer a holder', () => {
  const { host, owners, listening, master, worker } = preforkServer();
  // Between two polls: the worker exits and its pid goes to another program (the table still has the pid).
  host.end(worker);
  host.start(worker);
  const r = poll(owners, host, listening, [worker], []);
  assert.notEqual(r, 'unchanged');
  assert.deepEqual(r === 'unchanged' ? [] : r.get(100), [master]);
});

test('a socket without an owner is searched for again after a minute, also when only processes change', () => {
  const host = new Host();
  const owners = new SocketOwners('/proc', () => host.now, host.walker);
  const listening = new Map([[100, undefined], [200, undefined]]);
  const a = host.start(10, [100]);
  const b = host.start(11);
  owners.scanNew(listening, [a, b]);
  assert.deepEqual(owners.resolve(listening, host.processes, [a, b]).get(200), [], 'nobody holds it (yet)');
  // b gets the socket by other means than a fork (e.g. passed over a UNIX socket).
  host.fds.set(b, [200]);
  host.now += 30_000;
  assert.equal(poll(owners, host, listening, [host.start(12)], []), 'unchanged', 'within the minute');
  host.now += 31_000;
  const r = poll(owners, host, listening, [host.start(13)], []);
  assert.notEqual(r, 'unchanged');
  assert.deepEqual(r === 'unchanged' ? [] : r.get(200), [b]);
});

test('processes without a record yet (a first scan\'s deferred ones) hold sockets and are searched, after the others', () => {
  const host = new Host();
  const walked: number[][] = [];
  const walker: FdWalker = (pids, wanted) => { walked.push([...pids]); return host.walker(pids, wanted); };
  const owners = new SocketOwners('/proc', () => host.now, walker);
  // 20 and 21 are listed but not read in full yet: light records kept out of the process table.
  const known = host.start(10);
  const light = (pid: number): ProcessRecord => ({ pid, ppid: 1, startKey: '5', start: new Date(5).toISOString(), name: `p${pid}`, detailsPending: true });
  host.fds.set(20, [100]);
  host.fds.set(21, []);
  const deferred = new Map([[20, light(20)], [21, light(21)]]);
  const first = new Map([[100, undefined]]);
  owners.scanNew(first, [known, 20, 21]);
  assert.deepEqual(owners.holdersWhere((pid) => deferred.has(pid)), [20]);
  assert.deepEqual(owners.resolve(first, host.processes, [known, 20, 21], deferred).get(100), [20], 'a deferred holder is alive');
  assert.deepEqual(owners.resolve(first, host.processes, [], deferred).get(100), [20], 'and stays a holder on the next poll');
  assert.deepEqual(owners.resolve(first, host.processes, [], new Map()).get(100), [], 'until it is neither read nor deferred (it ended)');

  // A socket that appears later, held by a deferred process: the search reaches it after the known ones.
  host.fds.set(21, [101]);
  walked.length = 0;
  const later = new Map([[100, undefined], [101, undefined]]);
  const r = owners.resolve(later, host.processes, [], deferred);
  assert.deepEqual(r.get(101), [21]);
  const order = walked.flat();
  assert.ok(order.includes(known) && order.indexOf(known) < order.indexOf(21), `walk order: ${JSON.stringify(walked)}`);
});

test('a pre-fork server found among deferred processes: owners oldest first by the light records\' start', () => {
  const host = new Host();
  const owners = new SocketOwners('/proc', () => host.now, host.walker);
  const light = (pid: number, ppid: number, startMs: number): ProcessRecord => ({ pid, ppid, startKey: String(startMs), start: new Date(startMs).toISOString(), name: `p${pid}`, detailsPending: true });
  // The worker has the lower pid (pids wrapped): the master still comes first.
  host.fds.set(900, [100]);
  host.fds.set(30, [100]);
  const deferred = new Map([[900, light(900, 1, 1_000)], [30, light(30, 900, 2_000)]]);
  const listening = new Map([[100, undefined]]);
  owners.scanNew(listening, [30, 900]);
  assert.deepEqual(owners.resolve(listening, host.processes, [30, 900], deferred).get(100), [900, 30]);
});
