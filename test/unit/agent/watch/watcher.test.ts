import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleAgent, sampleHost } from '../../../../agent/ecs/samples.js';
import { DocumentBuilder } from '../../../../agent/ecs/builder.js';
import { getField } from '../../../../agent/ecs/document.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { ProcessTable } from '../../../../agent/lineage/process-table.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { FakeSource } from '../../../../agent/sources/fake.js';
import type { ListenerRecord, ProcessRecord } from '../../../../agent/sources/types.js';
import { Watcher } from '../../../../agent/watch/watcher.js';
import { addressScope } from '../../../../agent/ecs/scope.js';

const p = (pid: number, ppid: number, s: number, name: string): ProcessRecord => ({
  pid, ppid, startKey: String(s), start: new Date(1_700_000_000_000 + s * 10).toISOString(), name, executable: `/usr/bin/${name}`,
});
const l = (port: number, owners: number[], address = '0.0.0.0'): ListenerRecord => ({
  netns: 'n1', transport: 'tcp', family: 'ipv4', address, port, inode: port, owners,
});

function setup(opts: { ship?: boolean; detect?: (d: EcsDocument) => EcsDocument[]; os?: 'linux' | 'windows' } = {}) {
  const source = new FakeSource();
  const builder = new DocumentBuilder(sampleHost, sampleAgent);
  const out: EcsDocument[] = [];
  const logger = memoryLogger();
  const w = new Watcher({
    source, builder, table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger,
    sink: { accept: (d) => { out.push(d); return Promise.resolve(); } }, intervalMs: 1000, shipProcesses: opts.ship ?? false,
    ...(opts.detect === undefined ? {} : { detect: opts.detect }),
    ...(opts.os === undefined ? {} : { os: opts.os }),
  });
  return { source, w, out, logger, actions: () => out.map((d) => d.event.action) };
}

test('first tick reports existing listeners; later ticks report starts and stops with durations', async () => {
  const { source, w, out, actions } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'sshd')]);
  source.listeners = [l(22, [100])];
  await w.tick();
  assert.deepEqual(actions(), ['listening_existing']);
  await w.tick();
  assert.equal(out.length, 1, 'an unchanged listener produces nothing');
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'sshd'), p(200, 1, 9, 'nginx')]);
  source.listeners = [l(22, [100]), l(80, [200])];
  await w.tick();
  assert.deepEqual(actions().slice(1), ['listening_started']);
  source.listeners = [l(22, [100])];
  await w.tick();
  const stopped = out.at(-1);
  assert.ok(stopped);
  assert.equal(stopped.event.action, 'listening_stopped');
  assert.equal(stopped.event.start, out[1]?.['@timestamp']);
  assert.ok((stopped.event.duration ?? -1) >= 0);
});

test('a restarted service is a stop plus a start of the same address (identity includes the process)', async () => {
  const { source, w, actions } = setup();
  source.setProcesses([p(1, 0, 0, 'init'), p(300, 1, 5, 'redis')]);
  source.listeners = [l(6379, [300], '127.0.0.1')];
  await w.tick();
  source.setProcesses([p(1, 0, 0, 'init'), p(301, 1, 50, 'redis')]);
  source.listeners = [l(6379, [301], '127.0.0.1')];
  await w.tick();
  assert.deepEqual(actions(), ['listening_existing', 'listening_stopped', 'listening_started']);
});

test('process events are tracked always but shipped only when enabled; detection sees them either way', async () => {
  const seen: string[] = [];
  const detect = (d: EcsDocument) => { seen.push(d.event.action); return []; };
  const off = setup({ detect });
  off.source.setProcesses([p(1, 0, 0, 'init')]);
  await off.w.tick();
  off.source.setProcesses([p(1, 0, 0, 'init'), p(5, 1, 9, 'bash')]);
  await off.w.tick();
  assert.deepEqual(off.actions(), []);
  assert.deepEqual(seen, ['already_running', 'exec']);

  const on = setup({ ship: true });
  on.source.setProcesses([p(1, 0, 0, 'init')]);
  await on.w.tick();
  on.source.setProcesses([p(1, 0, 0, 'init'), p(5, 1, 9, 'bash')]);
  await on.w.tick();
  on.source.setProcesses([p(1, 0, 0, 'init')]);
  await on.w.tick();
  assert.deepEqual(on.actions(), ['already_running', 'exec', 'end']);
  assert.equal(on.out[1]?.['process' as never]?.['parent' as never]?.['name' as never], 'init');
});

test('a new process is `start` on Windows and `exec` elsewhere (the OS from util/os.ts unless given)', async () => {
  for (const [os, action] of [['windows', 'start'], ['linux', 'exec']] as const) {
    const { source, w, actions } = setup({ ship: true, os });
    source.setProcesses([p(1, 0, 0, 'init')]);
    await w.tick();
    source.setProcesses([p(1, 0, 0, 'init'), p(5, 1, 9, 'svc')]);
    await w.tick();
    assert.deepEqual(actions(), ['already_running', action], os);
  }
});

test('alerts from the detectors follow the listener event that raised them', async () => {
  const { source, w, actions } = setup({
    detect: (d) => (d.event.action === 'listening_started' ? [{ ...d, event: { ...d.event, kind: 'alert', action: 'unusual_listener' } }] : []),
  });
  source.setProcesses([p(1, 0, 0, 'init')]);
  await w.tick();
  source.listeners = [l(4444, [1])];
  await w.tick();
  assert.deepEqual(actions(), ['listening_started', 'unusual_listener']);
});

test('a blind collector is reported in-band once per streak, and the watch keeps going', async () => {
  const { source, w, out, logger } = setup();
  source.fail = new Error('EACCES /proc');
  await w.tick();
  source.fail = new Error('EACCES /proc');
  await w.tick();
  assert.equal(out.filter((d) => d.event.action === 'collector_degraded').length, 1);
  assert.match(out[0]?.message ?? '', /EACCES/);
  assert.ok(logger.records.some((r) => r.level === 'error'));
  source.listeners = [l(22, [])];
  await w.tick();
  assert.equal(out.at(-1)?.event.action, 'listening_existing');
});

test('malformed-input warnings are aggregated into one collector_degraded event', async () => {
  const { source, w, out } = setup();
  source.warnings = ['3 malformed line(s) in /proc/12/net/tcp', '1 malformed line(s) in /proc/99/net/tcp'];
  await w.tick();
  const deg = out.filter((d) => d.event.action === 'collector_degraded');
  assert.equal(deg.length, 1);
  assert.match(deg[0]?.message ?? '', /N malformed line\(s\) in \/proc\/N\/net\/tcp \(x2\)/);
});

test('address scopes', () => {
  const cases: [string, string][] = [
    ['0.0.0.0', 'any'], ['::', 'any'], ['127.0.0.1', 'loopback'], ['::1', 'loopback'], ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'], ['172.31.0.1', 'private'], ['172.32.0.1', 'public'], ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link_local'], ['fe80::1%eth0', 'link_local'], ['fd00::1', 'private'], ['8.8.8.8', 'public'], ['2001:db8::1', 'public'],
  ];
  for (const [ip, scope] of cases) assert.equal(addressScope(ip), scope, ip);
});

test('process_filter narrows shipped process events by user, executable prefix and parent', async () => {
  const source = new FakeSource();
  const out: EcsDocument[] = [];
  const w = new Watcher({
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }),
    logger: memoryLogger(), sink: { accept: (d) => { out.push(d); return Promise.resolve(); } }, intervalMs: 1000, shipProcesses: true,
    processFilter: { users: ['alice'], exclude_executables: ['/usr/lib/systemd/'], parents: ['bash'] },
  });
  const u = (r: ProcessRecord, userName: string, executable: string): ProcessRecord => ({ ...r, userName, executable });
  source.setProcesses([p(1, 0, 0, 'init'), u(p(10, 1, 1, 'bash'), 'alice', '/bin/bash')]);
  await w.tick();
  source.setProcesses([
    p(1, 0, 0, 'init'), u(p(10, 1, 1, 'bash'), 'alice', '/bin/bash'),
    u(p(11, 10, 5, 'curl'), 'alice', '/usr/bin/curl'), // shipped
    u(p(12, 10, 6, 'ls'), 'bob', '/usr/bin/ls'), // other user
    u(p(13, 10, 7, 'helper'), 'alice', '/usr/lib/systemd/helper'), // excluded path
    u(p(14, 1, 8, 'cron'), 'alice', '/usr/sbin/cron'), // parent is init, not bash
  ]);
  await w.tick();
  assert.deepEqual(out.filter((d) => d.event.action === 'exec').map((d) => (d as { process?: { name?: string } }).process?.name), ['curl']);
});

test('a process read with details pending gets its event and detection only once completed, never as an exec', async () => {
  const seen: EcsDocument[] = [];
  const { source, w, actions, out } = setup({ ship: true, detect: (d) => { seen.push(d); return []; } });
  const light: ProcessRecord = { pid: 100, ppid: 1, startKey: '5', start: new Date(1_700_000_000_050).toISOString(), name: 'sshd', detailsPending: true };
  source.setProcesses([p(1, 0, 0, 'init'), light]);
  await w.tick();
  assert.deepEqual(actions(), ['already_running'], 'only the complete process is announced');
  await w.tick();
  assert.equal(out.length, 1, 'still pending: still nothing');
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'sshd')]);
  await w.tick();
  assert.deepEqual(actions(), ['already_running', 'already_running'], 'completed: announced as present at start, not as exec');
  const doc = out[1];
  assert.equal(getField(doc, 'process.executable'), '/usr/bin/sshd');
  assert.equal(getField(doc, 'process.parent.name'), 'init');
  assert.ok(seen.some((d) => getField(d, 'process.pid') === 100 && getField(d, 'process.executable') === '/usr/bin/sshd'), 'detection saw the completed document');
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'sshd')]);
  await w.tick();
  assert.equal(out.length, 2, 'nothing more for an unchanged process');
});

test('a pending process that exits before it is completed is never announced as running', async () => {
  const { source, w, actions } = setup({ ship: true });
  source.setProcesses([p(1, 0, 0, 'init'), { pid: 7, ppid: 1, startKey: '3', start: new Date(1_700_000_000_030).toISOString(), name: 'job', detailsPending: true }]);
  await w.tick();
  source.setProcesses([p(1, 0, 0, 'init')]);
  await w.tick();
  assert.ok(!actions().slice(1).includes('already_running'));
});

test('detection switched on or off in the options after start (a reload) applies from the next event', async () => {
  const source = new FakeSource();
  const out: EcsDocument[] = [];
  const alert = (d: EcsDocument): EcsDocument[] => (d.event.action === 'listening_started' ? [{ ...d, event: { ...d.event, kind: 'alert' } }] : []);
  const options: ConstructorParameters<typeof Watcher>[0] = {
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger: memoryLogger(),
    sink: { accept: (d) => { out.push(d); return Promise.resolve(); } }, intervalMs: 1000, shipProcesses: false,
  };
  const w = new Watcher(options);
  source.setProcesses([p(1, 0, 0, 'init'), p(100, 1, 5, 'nc')]);
  await w.tick();
  options.detect = alert;
  source.listeners = [l(4444, [100])];
  await w.tick();
  assert.deepEqual(out.map((d) => d.event.kind), ['event', 'alert'], 'the engine a reload added sees the next listener');
  delete options.detect;
  source.listeners = [l(4444, [100]), l(5555, [100])];
  await w.tick();
  assert.deepEqual(out.slice(2).map((d) => d.event.kind), ['event'], 'and one it removed no longer does');
});
