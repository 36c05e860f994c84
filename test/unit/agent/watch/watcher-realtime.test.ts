import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleAgent, sampleHost } from '../../../../agent/ecs/samples.js';
import { DocumentBuilder } from '../../../../agent/ecs/builder.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { getField } from '../../../../agent/ecs/document.js';
import { ProcessTable } from '../../../../agent/lineage/process-table.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { FakeRealtimeFeed, FakeSource } from '../../../../agent/sources/fake.js';
import type { ListenerRecord, ProcessRecord, RealtimeEvent } from '../../../../agent/sources/types.js';
import { MAX_BACKLOG } from '../../../../agent/watch/backlog.js';
import { Watcher } from '../../../../agent/watch/watcher.js';

const T0 = 1_700_000_000_000;
const p = (pid: number, ppid: number, s: number, name: string, extra: Partial<ProcessRecord> = {}): ProcessRecord => ({
  pid, ppid, startKey: String(s), start: new Date(T0 + s * 10).toISOString(), name, executable: `/usr/bin/${name}`, ...extra,
});
const l = (port: number, owners: number[], transport: 'tcp' | 'udp' = 'tcp', inode = port): ListenerRecord => ({
  netns: 'n1', transport, family: 'ipv4', address: '0.0.0.0', port, inode, owners,
});

function setup() {
  const source = new FakeSource();
  const feed = new FakeRealtimeFeed();
  source.feed = feed;
  const out: EcsDocument[] = [];
  const seen: EcsDocument[] = [];
  const w = new Watcher({
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger: memoryLogger(),
    sink: { accept: (d) => { out.push(d); return Promise.resolve(); } }, intervalMs: 60_000, shipProcesses: true,
    detect: (d) => { seen.push(d); return []; },
  });
  w.attachRealtime();
  const emit = async (events: RealtimeEvent[]) => {
    feed.emit(events);
    await w.flush();
  };
  return { source, feed, w, out, seen, emit, actions: () => out.map((d) => d.event.action) };
}

test('a listener that opens and closes between two polls gets both events, with its duration, and the next poll adds nothing', async () => {
  const { source, w, emit, out, actions } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'python3')]);
  await w.tick();
  const base = out.length;
  await emit([
    { kind: 'listen', record: l(4444, [100]), at: T0 + 10_000 },
    { kind: 'unlisten', record: l(4444, []), at: T0 + 10_020 },
  ]);
  assert.deepEqual(actions().slice(base), ['listening_started', 'listening_stopped']);
  const stopped = out.at(-1);
  assert.ok(stopped);
  assert.equal(stopped.event.duration, 20_000_000);
  assert.equal(getField(stopped, 'process.pid'), 100);
  await w.tick();
  assert.equal(out.length, base + 2, 'the poll neither repeats nor undoes what the kernel reported');
  await w.shutdown();
});

test('a listener reported by the kernel is not reported again by the poll that sees it, and its close comes once', async () => {
  const { source, w, emit, actions } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'nginx')]);
  await w.tick();
  await emit([{ kind: 'listen', record: l(80, [100]), at: Date.now() }]);
  source.listeners = [l(80, [100])];
  await w.tick();
  assert.deepEqual(actions(), ['already_running', 'already_running', 'listening_started']);
  await emit([{ kind: 'unlisten', record: l(80, []), at: Date.now() }]);
  source.listeners = [];
  await w.tick();
  assert.deepEqual(actions().slice(3), ['listening_stopped']);
  await w.shutdown();
});

test('a poll that began before kernel events neither stops a listener opened since nor restarts one closed since', async () => {
  const { source, w, emit, actions } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'nginx')]);
  source.listeners = [l(443, [100])];
  await w.tick();
  const pollStart = new Date();
  await emit([
    { kind: 'listen', record: l(8080, [100]), at: pollStart.getTime() + 5 },
    { kind: 'unlisten', record: l(443, []), at: pollStart.getTime() + 6 },
  ]);
  // The poll read the sockets before both events: it still lists 443 and not 8080.
  source.takenAt = pollStart;
  await w.tick();
  assert.deepEqual(actions().slice(-2), ['listening_started', 'listening_stopped']);
  assert.equal(actions().filter((a) => a === 'listening_started').length, 1);
  // The next poll sees the truth; nothing more to say.
  source.listeners = [l(8080, [100])];
  const n = actions().length;
  await w.tick();
  assert.equal(actions().length, n);
  await w.shutdown();
});

test('a web server child that lives a few ms is reported at exec with the web server as parent, also when orphaned before its exec', async () => {
  const { source, w, emit, seen, out } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(500, 1, 5, 'php-fpm8.2')]);
  await w.tick();
  await emit([
    { kind: 'fork', record: p(600, 500, 900, 'php-fpm8.2', { realtime: true }), at: T0 + 9000 },
    { kind: 'exec', record: p(600, 500, 900, 'sh', { realtime: true, args: ['sh', '-c', 'id'], commandLine: 'sh -c id' }), at: T0 + 9001 },
    { kind: 'exit', pid: 600, startKey: '900', at: T0 + 9004 },
    // A double fork: the middle process exits, its child is reparented to init, then execs.
    { kind: 'fork', record: p(700, 500, 950, 'php-fpm8.2', { realtime: true }), at: T0 + 9500 },
    { kind: 'fork', record: p(701, 700, 951, 'php-fpm8.2', { realtime: true }), at: T0 + 9501 },
    { kind: 'exit', pid: 700, startKey: '950', at: T0 + 9502 },
    { kind: 'exec', record: p(701, 1, 951, 'bash', { realtime: true, args: ['bash', '-i'] }), at: T0 + 9503 },
  ]);
  const execs = seen.filter((d) => d.event.action === 'exec');
  assert.deepEqual(execs.map((d) => [getField(d, 'process.name'), getField(d, 'process.parent.name'), getField(d, 'process.parent.pid')]), [
    ['sh', 'php-fpm8.2', 500],
    ['bash', 'php-fpm8.2', 700],
  ]);
  const lineage = getField(execs[1] ?? {}, 'portwarden.lineage') as { pid: number }[];
  assert.deepEqual(lineage.map((e) => e.pid), [700, 500, 1]);
  // Shipped: the end of the short shell; the fork that never exec'd (700) has no start and no end.
  assert.deepEqual(out.filter((d) => d.event.action === 'end').map((d) => getField(d, 'process.pid')), [600]);
  assert.ok(!out.some((d) => getField(d, 'process.pid') === 700 && d.event.dataset === 'portwarden.process'));
  await w.shutdown();
});

test('process ends reported by the kernel are not undone by a poll that listed the process before it ended', async () => {
  const { source, w, emit, out, actions } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'bash')]);
  await w.tick();
  const pollStart = new Date();
  await emit([
    { kind: 'exec', record: p(200, 100, 800, 'sleep', { realtime: true, args: ['sleep', '1'] }), at: pollStart.getTime() + 2 },
    { kind: 'exit', pid: 200, startKey: '800', at: pollStart.getTime() + 1002 },
  ]);
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'bash'), p(200, 100, 800, 'sleep', { args: ['sleep', '1'] })]);
  source.takenAt = pollStart;
  await w.tick();
  assert.deepEqual(actions().slice(2), ['exec', 'end']);
  // And a process started after the poll listed /proc is not ended by it.
  await emit([{ kind: 'exec', record: p(300, 100, 900, 'vim', { realtime: true }), at: Date.now() }]);
  source.takenAt = new Date(Date.now() - 1000);
  await w.tick();
  assert.deepEqual(out.slice(4).map((d) => d.event.action), ['exec']);
  await w.shutdown();
});

test('kernel-side losses are reported in-band with their count', async () => {
  const { w, emit, out } = setup();
  await w.tick();
  await emit([{ kind: 'lost', count: 37, at: Date.now(), producer: 'kernel' }]);
  const degraded = out.find((d) => d.event.action === 'collector_degraded');
  assert.ok(degraded);
  assert.match(String(degraded.message), /lost 37 kernel event/);
  assert.equal(getField(degraded, 'portwarden.collector.realtime_lost'), 37);
  await w.shutdown();
});

test('a kernel producer that stops is said in-band, and polls go back to the full interval', async () => {
  const { w, emit, out, feed } = setup();
  await w.tick();
  feed.status().listenersRealtime = false;
  await emit([{ kind: 'lost', count: 0, at: Date.now(), producer: 'ring buffer epoll: EBADF' }]);
  const degraded = out.find((d) => d.event.action === 'collector_degraded');
  assert.ok(degraded);
  assert.match(String(degraded.message), /real-time source stopped \(ring buffer epoll: EBADF\); polling continues every 60000 ms/);
  await w.shutdown();
});

test('an exec below a process the first poll left for later gets its whole lineage: the source reads the parents at once', async () => {
  const { source, w, emit, out, actions } = setup();
  const init = p(1, 0, 0, 'init');
  const shell = p(200, 1, 2, 'bash');
  const make = p(300, 200, 4, 'make', { existing: true });
  // A busy host's first poll: make is listed but not read yet, so it is not in the snapshot.
  source.setProcesses([init, shell]);
  const asked: number[] = [];
  Object.assign(source, {
    ancestry: (pid: number): ProcessRecord[] => {
      asked.push(pid);
      return pid === 300 ? [make, shell, init] : [];
    },
  });
  await w.tick();
  const base = out.length;
  await emit([{ kind: 'exec', record: p(400, 300, 9, 'cc1', { realtime: true }), at: T0 + 20_000 }]);
  assert.deepEqual(asked, [300]);
  assert.deepEqual(actions().slice(base), ['already_running', 'exec'], 'make is announced as the poll would have, before its child');
  const exec = out.at(-1);
  assert.ok(exec);
  assert.equal(getField(exec, 'process.parent.name'), 'make');
  const lineage = getField(exec, 'portwarden.lineage') as { name?: string }[];
  assert.deepEqual(lineage.map((a) => a.name), ['make', 'bash', 'init']);
  // The poll that reads make later announces nothing again.
  source.setProcesses([init, shell, make, p(400, 300, 9, 'cc1', { realtime: true })]);
  await w.tick();
  assert.equal(actions().filter((a) => a === 'already_running').length, 3);
  await w.shutdown();
});

test('a lane held up by a full spool keeps at most MAX_BACKLOG real-time events; the rest are counted in-band as lost, and the stop drops what is left once abandoned', async () => {
  const source = new FakeSource();
  const feed = new FakeRealtimeFeed();
  source.feed = feed;
  const out: EcsDocument[] = [];
  // The sink waits (a full spool under when_full: block) until `open()`.
  let open = (): void => undefined;
  let gate = Promise.resolve();
  let gated = false;
  const hold = (): void => { gated = true; gate = new Promise<void>((resolve) => { open = () => { gated = false; resolve(); }; }); };
  hold();
  const logger = memoryLogger();
  const w = new Watcher({
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger,
    sink: { accept: (d) => { out.push(d); return gated ? gate : Promise.resolve(); } }, intervalMs: 60_000, shipProcesses: true,
  });
  w.attachRealtime();
  source.setProcesses([p(1, 0, 0, 'init')]);
  const polled = w.tick();
  const exec = (pid: number): RealtimeEvent => ({ kind: 'exec', record: p(pid, 1, pid, 'true', { realtime: true }), at: T0 + pid });
  // The poll waits on the sink; meanwhile the kernel reports far more than the backlog holds.
  const extra = 5000;
  for (let i = 0; i < MAX_BACKLOG + extra; i += 1000) feed.emit(Array.from({ length: Math.min(1000, MAX_BACKLOG + extra - i) }, (_, k) => exec(10_000 + i + k)));
  open();
  await polled;
  await w.flush();
  const execs = out.filter((d) => d.event.action === 'exec').length;
  const lost = out.filter((d) => d.event.action === 'collector_degraded').reduce((n, d) => n + Number(getField(d, 'portwarden.collector.realtime_lost')), 0);
  assert.equal(execs, MAX_BACKLOG, 'the backlog is applied');
  assert.equal(lost, extra, 'what did not fit is reported in-band');
  assert.match(String(out.find((d) => d.event.action === 'collector_degraded')?.message), new RegExp(`real-time source dropped ${extra} the watch fell behind on \\(${MAX_BACKLOG} waiting`));

  // Past the cap the kernel's own reports still count: a loss of 700 adds 700, a producer's stop notice is kept.
  hold();
  const seen = out.length;
  feed.emit([exec(40_000)]);
  await new Promise((r) => setImmediate(r));
  feed.emit(Array.from({ length: MAX_BACKLOG }, (_, k) => exec(100_000 + k)));
  feed.emit([{ kind: 'lost', count: 700, at: Date.now(), producer: 'kernel' }, { kind: 'lost', count: 0, at: Date.now(), producer: 'ring buffer epoll: EBADF' }]);
  open();
  await w.flush();
  const reports = out.slice(seen).filter((d) => d.event.action === 'collector_degraded');
  assert.equal(reports.reduce((n, d) => n + Number(getField(d, 'portwarden.collector.realtime_lost')), 0), 700, 'the kernel loss counted in full past the cap');
  assert.ok(reports.some((d) => /real-time source stopped \(ring buffer epoll: EBADF\)/.test(String(d.message))), 'the stop notice kept past the cap');

  // Stopping with the spool released: events not yet applied are dropped and said in the log, not turned into documents.
  hold();
  const before = out.length;
  feed.emit([exec(50_000)]);
  await new Promise((r) => setImmediate(r));
  feed.emit(Array.from({ length: 10 }, (_, k) => exec(60_000 + k)));
  w.abandon();
  const stopping = w.shutdown();
  open();
  await stopping;
  assert.deepEqual(out.slice(before).map((d) => d.event.action), ['exec', 'collector_degraded'], 'only the exec already being handed over, then the report');
  assert.equal(getField(out.at(-1) as EcsDocument, 'portwarden.collector.realtime_lost'), 10, 'what was dropped, in-band');
  assert.ok(logger.records.some((l) => /stopping: 10 real-time event\(s\) not yet applied were dropped/.test(l.message)), JSON.stringify(logger.records.slice(-3)));
});
