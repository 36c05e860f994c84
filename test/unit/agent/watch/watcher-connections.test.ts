// Outbound connection events through the watch: detection always sees them, events.connections says
// whether they ship (read per event, so a reload switches it), and a process that connects and
// exits in one delivery is still the one named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleAgent, sampleHost } from '../../../../agent/ecs/samples.js';
import { DocumentBuilder } from '../../../../agent/ecs/builder.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { getField } from '../../../../agent/ecs/document.js';
import { ProcessTable } from '../../../../agent/lineage/process-table.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { FakeRealtimeFeed, FakeSource } from '../../../../agent/sources/fake.js';
import type { ConnectAttempt, ProcessRecord, RealtimeEvent } from '../../../../agent/sources/types.js';
import { Watcher } from '../../../../agent/watch/watcher.js';
import type { WatcherOptions } from '../../../../agent/watch/watcher.js';

const T0 = 1_700_000_000_000;
const p = (pid: number, ppid: number, s: number, name: string): ProcessRecord => ({
  pid, ppid, startKey: String(s), start: new Date(T0 + s * 10).toISOString(), name, executable: `/usr/bin/${name}`, commandLine: name,
});
const c = (pid: number, port: number): ConnectAttempt => ({
  pid, name: 'k', netns: 'n1', transport: 'tcp', family: 'ipv4', sourceAddress: '10.0.0.5', sourcePort: 0, destinationAddress: '203.0.113.9', destinationPort: port, suppressed: 0,
});

async function setup() {
  const source = new FakeSource();
  const feed = new FakeRealtimeFeed();
  source.feed = feed;
  const out: EcsDocument[] = [];
  const seen: EcsDocument[] = [];
  const opts: WatcherOptions = {
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger: memoryLogger(),
    sink: { accept: (d) => { out.push(d); return Promise.resolve(); } }, intervalMs: 60_000, shipProcesses: false, connections: 'alerts',
    detect: (d) => { seen.push(d); return d.event.action === 'connection_attempted' && getField(d, 'destination.port') === 4444 ? [{ ...d, event: { ...d.event, kind: 'alert', action: 'suspicious_connection' } }] : []; },
  };
  const w = new Watcher(opts);
  w.attachRealtime();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'bash')]);
  await w.tick();
  const emit = async (events: RealtimeEvent[]) => { feed.emit(events); await w.flush(); };
  return { opts, w, out, seen, emit };
}

test('alerts (the default): connection events feed detection, only their alerts ship; all: they ship too', async () => {
  const { opts, w, out, seen, emit } = await setup();
  await emit([{ kind: 'connect', record: c(100, 4444), at: T0 + 1000 }, { kind: 'connect', record: c(100, 443), at: T0 + 1001 }]);
  assert.deepEqual(seen.filter((d) => d.event.action === 'connection_attempted').map((d) => getField(d, 'destination.port')), [4444, 443]);
  assert.deepEqual(out.map((d) => d.event.action), ['suspicious_connection']);
  opts.connections = 'all'; // what a reload does
  await emit([{ kind: 'connect', record: c(100, 8443), at: T0 + 2000 }]);
  assert.deepEqual(out.slice(1).map((d) => `${d.event.action}:${String(getField(d, 'destination.port'))}`), ['connection_attempted:8443']);
  await w.shutdown();
});

test('a process that execs, connects and exits in one delivery is named with its image and parent', async () => {
  const { seen, w, emit } = await setup();
  await emit([
    { kind: 'fork', record: p(200, 100, 50, 'bash'), at: T0 + 3000 },
    { kind: 'exec', record: p(200, 100, 50, 'nc'), at: T0 + 3001 },
    { kind: 'connect', record: c(200, 4444), at: T0 + 3002 },
    { kind: 'exit', pid: 200, startKey: '50', at: T0 + 3003 },
  ]);
  const doc = seen.find((d) => d.event.action === 'connection_attempted');
  assert.ok(doc);
  assert.equal(getField(doc, 'process.executable'), '/usr/bin/nc');
  assert.equal(getField(doc, 'process.parent.name'), 'bash');
  assert.equal(getField(doc, 'network.direction'), 'egress');
  await w.shutdown();
});

test('a connect naming a process the table holds as another image (its exec was lost) applies that exec first; a gone one keeps the kernel\'s name only', async () => {
  const { seen, w, emit } = await setup();
  const curl = { ...p(300, 100, 60, 'curl'), realtime: true as const };
  await emit([
    { kind: 'fork', record: { ...p(300, 100, 60, 'bash'), realtime: true }, at: T0 + 4000 },
    // The exec of curl was lost in the kernel; the source read /proc again for the connect.
    { kind: 'connect', record: { ...c(300, 443), name: 'curl' }, ownerRecord: curl, at: T0 + 4001 },
    { kind: 'fork', record: { ...p(301, 100, 61, 'bash'), realtime: true }, at: T0 + 4002 },
    { kind: 'connect', record: { ...c(301, 443), name: 'wget' }, ownerStale: true, at: T0 + 4003 },
  ]);
  const [first, second] = seen.filter((d) => d.event.action === 'connection_attempted');
  assert.ok(first !== undefined && second !== undefined);
  assert.equal(getField(first, 'process.executable'), '/usr/bin/curl');
  assert.equal(getField(first, 'process.parent.name'), 'bash');
  assert.ok(seen.some((d) => d.event.action === 'exec' && getField(d, 'process.pid') === 300), 'the lost exec is reported');
  assert.equal(getField(second, 'process.name'), 'wget');
  assert.equal(getField(second, 'process.executable'), undefined, 'not the shell it was forked as');
  await w.shutdown();
});

test('a connect by a process whose pid the table still holds for an earlier process (its exit was lost) names the process read for it', async () => {
  const { seen, w, emit } = await setup();
  await emit([{ kind: 'fork', record: { ...p(400, 100, 70, 'nginx'), realtime: true }, at: T0 + 5000 }]);
  // pid 400 again, another start: the source did not know it and read it from /proc.
  await emit([{ kind: 'connect', record: { ...c(400, 4444), name: 'nc' }, ownerRecord: { ...p(400, 100, 90, 'nc'), realtime: true }, at: T0 + 6000 }]);
  const doc = seen.find((d) => d.event.action === 'connection_attempted');
  assert.ok(doc);
  assert.equal(getField(doc, 'process.executable'), '/usr/bin/nc');
  await w.shutdown();
});

test('connections a polling source found new (Windows) take the same path: the process of the same poll is named, a steady tick still ships them', async () => {
  const source = new FakeSource();
  const out: EcsDocument[] = [];
  const opts: WatcherOptions = {
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger: memoryLogger(),
    sink: { accept: (d) => { out.push(d); return Promise.resolve(); } }, intervalMs: 60_000, shipProcesses: false, connections: 'all',
    detect: (d) => (d.event.action === 'connection_attempted' && getField(d, 'destination.port') === 4444 ? [{ ...d, event: { ...d.event, kind: 'alert', action: 'suspicious_connection' } }] : []),
  };
  const w = new Watcher(opts);
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'bash')]);
  await w.tick();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'bash'), p(400, 100, 70, 'nc')]);
  source.connects = [c(400, 4444)];
  await w.tick();
  const attempted = out.filter((d) => d.event.action === 'connection_attempted');
  assert.equal(attempted.length, 1);
  assert.equal(getField(attempted[0]!, 'process.executable'), '/usr/bin/nc');
  assert.equal(getField(attempted[0]!, 'process.parent.name'), 'bash');
  assert.ok(out.some((d) => d.event.action === 'suspicious_connection'), 'detection saw it');
  // A tick the source says changed nothing (no process, no listener): its connections still ship.
  source.changed = { processes: false, listeners: false };
  source.connects = [c(100, 443)];
  await w.tick();
  assert.deepEqual(out.filter((d) => d.event.action === 'connection_attempted').map((d) => getField(d, 'process.pid')), [400, 100]);
  await w.shutdown();
});
