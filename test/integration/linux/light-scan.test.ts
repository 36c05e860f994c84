// The first poll on a busy host reads every process light (stat, uid, netns) and only listener
// owners and their ancestors in full; the rest are completed over the next polls before their
// already_running events. Real processes and sockets on this machine; the native fd walk and
// light read are checked against the JS ones they replace.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DocumentBuilder } from '../../../agent/ecs/builder.js';
import { getField } from '../../../agent/ecs/document.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { sampleAgent, sampleHost } from '../../../agent/ecs/samples.js';
import { ProcessTable } from '../../../agent/lineage/process-table.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { LinuxSource } from '../../../agent/sources/linux/index.js';
import { listPids, readLight, readListed, readProcess, UserNames } from '../../../agent/sources/linux/process-reader.js';
import { loadSockDiag } from '../../../agent/sources/linux/sock-diag.js';
import { jsFdWalker, nativeFdWalker } from '../../../agent/sources/linux/socket-owners.js';
import { Watcher } from '../../../agent/watch/watcher.js';
import { startListenerChain } from '../../helpers/listeners.js';
import { waitFor } from '../../helpers/wait.js';

const linux = process.platform === 'linux';
const root = process.getuid?.() === 0;
const diag = loadSockDiag();

/** A process that holds no socket and is no one's ancestor: a candidate for a light read. */
function idleChild(t: TestContext, uid?: number): number {
  const p = spawn('sleep', ['300'], { stdio: 'ignore', ...(uid === undefined ? {} : { uid, gid: uid }) });
  t.after(() => p.kill('SIGKILL'));
  assert.ok(p.pid !== undefined);
  return p.pid;
}

/** Resolves once a killed child is gone from /proc (node reaps it on SIGCHLD). */
function reaped(pid: number): Promise<true> {
  return waitFor(`pid ${pid} reaped`, () => (existsSync(`/proc/${pid}`) ? undefined : true), 10_000, 10);
}

function listeningInodes(): Map<number, undefined> {
  const r = diag?.dump();
  assert.ok(r?.kind === 'ok', 'sock_diag dump');
  return new Map(r.rows.map((row) => [row.inode, undefined]));
}

test('the native fd walk finds the same socket holders as the JS walk', { skip: !linux || diag?.walksFds !== true ? 'needs the sock_diag addon on Linux' : false }, async (t) => {
  const chain = await startListenerChain('pwwalk', ['tcp:127.0.0.1:0', 'udp:127.0.0.1:0', 'tcp6:[::1]:0']);
  t.after(chain.kill);
  const wanted = listeningInodes();
  // Other tests open and close sockets meanwhile: compare on the processes this test owns.
  const pids = listPids('/proc');
  const native = nativeFdWalker('/proc', diag ?? assert.fail('no addon'))(pids, wanted);
  const js = jsFdWalker('/proc')(pids, wanted);
  const ours = new Set(pids.filter((pid) => js.pairs.some(([p]) => p === pid) && readProcess(pid, ctx())?.name.startsWith('python')));
  assert.ok(ours.size >= 1, 'the listener process holds its sockets');
  const pick = (pairs: [number, number][]) => pairs.filter(([pid]) => ours.has(pid)).map(([pid, ino]) => `${pid}:${ino}`).sort();
  assert.deepEqual(pick(native.pairs), pick(js.pairs));
  assert.ok(pick(native.pairs).length >= 3, 'three listening sockets found');
  assert.ok(native.read >= pids.length - 20, `fd tables read: ${native.read} of ${pids.length}`);
});

// 3,000 open files list in more than one 32 KiB getdents64 buffer; the socket comes last.
const PY_MANY_FDS = String.raw`
import os, resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
keep = [open(os.devnull) for _ in range(3000)]
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
print(s.fileno(), flush=True)
sys.stdin.read()
`;

test('the native fd walk reads an fd table longer than one directory buffer', { skip: !linux || diag?.walksFds !== true ? 'needs the sock_diag addon on Linux' : false }, async (t) => {
  const p = spawn('python3', ['-c', PY_MANY_FDS], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => p.kill('SIGKILL'));
  const fd = Number(await new Promise<string>((resolve) => p.stdout.once('data', (b: Buffer) => { resolve(b.toString()); })));
  assert.ok(fd > 3000, `the listening socket is fd ${fd}`);
  const pid = p.pid ?? assert.fail('no pid');
  const wanted = listeningInodes();
  const native = nativeFdWalker('/proc', diag ?? assert.fail('no addon'))([pid], wanted);
  const js = jsFdWalker('/proc')([pid], wanted);
  assert.equal(native.pairs.length, 1, 'the one listening socket, found after 3,000 other fds');
  assert.deepEqual(native.pairs, js.pairs);
  assert.equal(native.read, 1);
});

function ctx() {
  return { procRoot: '/proc', bootTimeMs: 0, clockTicks: 100, users: new UserNames() };
}

test('the native light read gives the records the JS light read gives', { skip: !linux || diag?.readsBasics !== true ? 'needs the sock_diag addon on Linux' : false }, (t) => {
  const sleeper = idleChild(t);
  // Another user's process (as root): its owner uid is read too.
  const nobody = root ? idleChild(t, 65534) : undefined;
  const pids = [process.pid, sleeper, process.ppid, 1, 999_999_999, ...(nobody === undefined ? [] : [nobody])];
  const native = readLight(pids, ctx(), diag);
  const js = readLight(pids, ctx(), undefined);
  assert.deepEqual(native.map((r) => r.pid).sort(), js.map((r) => r.pid).sort(), 'the same pids, the vanished one left out');
  assert.ok(native.some((r) => r.pid === sleeper));
  if (nobody !== undefined) assert.equal(native.find((r) => r.pid === nobody)?.uid, 65534);
  for (const n of native) {
    const j = js.find((r) => r.pid === n.pid);
    assert.deepEqual(n, j, `pid ${n.pid}`);
    assert.equal(n.detailsPending, true);
    assert.equal(n.commandLine, undefined, 'a light record has no command line yet');
  }
});

test('the native read of parent, start and namespace (a first scan\'s deferred processes) gives what the JS read gives', { skip: !linux || diag?.readsStarts !== true ? 'needs the sock_diag addon (starts) on Linux' : false }, (t) => {
  const sleeper = idleChild(t);
  const pids = [process.pid, sleeper, process.ppid, 1, 999_999_999];
  const native = readListed(pids, '/proc', diag);
  assert.deepEqual(native, readListed(pids, '/proc', undefined));
  const mine = native.find((p) => p.pid === sleeper);
  assert.equal(mine?.ppid, process.pid);
  assert.equal(mine.startKey, readProcess(sleeper, ctx(), 'light')?.startKey);
  assert.equal(native.some((p) => p.pid === 999_999_999), false, 'a vanished pid is left out');
});

test('first poll: owners and ancestors read in full, the rest over later polls, each as already_running', { skip: !linux || !root ? 'needs Linux and root (other users\' processes)' : false }, async (t) => {
  // Several idle processes, two full reads per poll: however few other processes this host has
  // and wherever in the queue the idle ones land, some are still pending after the first tick.
  const sleepers = Array.from({ length: 8 }, () => idleChild(t));
  const chain = await startListenerChain('pwlight', ['tcp:127.0.0.1:0']);
  t.after(chain.kill);
  const port = chain.opened[0]?.port;
  const source = new LinuxSource({ logger: silentLogger, fullReadsPerPoll: 2 });
  const docs: EcsDocument[] = [];
  const watcher = new Watcher({
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }),
    sink: { accept: (d) => { docs.push(d); return Promise.resolve(); } }, logger: silentLogger, intervalMs: 1000, shipProcesses: true,
  });
  await source.start();

  const first = await source.poll();
  const row = first.listeners.find((l) => l.port === port && l.address === '127.0.0.1');
  assert.ok(row?.owners[0] !== undefined, 'the listener has its owner');
  const chainRecords: string[] = [];
  for (let pid = row.owners[0]; pid > 1;) {
    const rec = first.processes.get(pid);
    if (rec === undefined) break;
    assert.equal(rec.detailsPending, undefined, `${rec.name}[${pid}] on the owner's chain is complete`);
    chainRecords.push(rec.name);
    pid = rec.ppid;
  }
  assert.ok(chainRecords.includes('pwlight'), `chain: ${chainRecords.join(' <- ')}`);
  for (const pid of sleepers) assert.equal(first.processes.get(pid), undefined, `an unrelated process (${pid}) is read on a later poll`);
  assert.ok(source.pendingDetails >= sleepers.length);

  // The watch: the listener document on its first tick, with full lineage.
  await watcher.tick();
  const existing = docs.find((d) => d.event.action === 'listening_existing' && getField(d, 'destination.port') === port);
  assert.ok(existing, 'listening_existing for our port');
  assert.ok(String(getField(existing, 'process.command_line')).includes('listen.py'), 'owner command line');
  assert.ok(JSON.stringify(existing.portwarden).includes('pwlight'), 'ancestry names the outer process');
  const runningDocs = (pid: number) => docs.filter((d) => d.event.action === 'already_running' && getField(d, 'process.pid') === pid);
  // The snapshot's table is the source's own, updated in place: it tells which records are still to read.
  const stillPending = sleepers.filter((pid) => first.processes.get(pid) === undefined);
  assert.ok(stillPending.length >= sleepers.length - 2, `at most two full reads on the tick: ${stillPending.length} of ${sleepers.length} still pending`);
  for (const pid of stillPending) assert.deepEqual(runningDocs(pid), [], `no already_running for ${pid} while its details are pending`);

  // Later polls complete the rest, at most a few full reads each (new processes of other tests
  // may add to the queue meanwhile).
  for (let i = 0; i < 4000 && source.pendingDetails > 0; i++) await watcher.tick();
  assert.equal(source.pendingDetails, 0, 'every process completed');
  const settled = () => source.settled;
  assert.equal(settled(), false, 'the burst ends on the poll after the completion');
  for (let i = 0; i < 2000 && !settled(); i++) await watcher.tick();
  assert.equal(settled(), true);
  for (const pid of sleepers) {
    const found = runningDocs(pid);
    assert.equal(found.length, 1, `one already_running for ${pid} once completed`);
    const doc = found[0] ?? assert.fail('no document');
    assert.equal(getField(doc, 'process.command_line'), 'sleep 300');
    const exe = String(getField(doc, 'process.executable'));
    assert.ok(exe.endsWith('/sleep'), `executable: ${exe}`);
    assert.equal(docs.filter((d) => getField(d, 'process.pid') === pid && d.event.action === 'exec').length, 0, 'a process read late is not an exec');
  }
});

// With /proc/loadavg's task counters unchanged the poll does not list /proc; they move with every
// task created or reaped on the host, so a real change is never hidden. Driven here by a counter
// the test controls, against real processes.
test('unchanged task counters skip the /proc listing; changed counters or 30 polls list it again', { skip: !linux ? 'Linux only' : false }, async (t) => {
  let counters = 'c1';
  const source = new LinuxSource({ logger: silentLogger, taskCounters: () => counters });
  await source.start();
  for (let i = 0; i < 2000; i++) {
    await source.poll();
    if (source.pendingDetails === 0) break;
  }
  await source.poll();

  const sleeper = idleChild(t);
  assert.equal((await source.poll()).processes.has(sleeper), false, 'same counters: /proc is not listed');
  counters = 'c2';
  assert.equal((await source.poll()).processes.has(sleeper), true, 'new counters: the new process is seen');

  process.kill(sleeper, 'SIGKILL');
  await reaped(sleeper);
  let polls = 0;
  while ((await source.poll()).processes.has(sleeper)) {
    polls++;
    assert.ok(polls < 30, 'listed again within 30 polls even with unchanged counters');
  }
  assert.ok(polls >= 20, `unchanged counters kept the old listing for ${polls} polls`);

  // The default on a real host: /proc/loadavg, in the initial pid namespace only.
  const real = new LinuxSource({ logger: silentLogger });
  await real.start();
  const other = idleChild(t);
  // On a busy host (other tests' processes) the first poll defers most processes: read them all.
  let snap = await real.poll();
  for (let i = 0; i < 2000 && real.pendingDetails > 0; i++) snap = await real.poll();
  assert.equal(snap.processes.has(other), true);
  process.kill(other, 'SIGKILL');
  await reaped(other);
  assert.equal((await real.poll()).processes.has(other), false, 'a reaped process changes the counters');
});
