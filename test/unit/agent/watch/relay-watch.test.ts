import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { getField } from '../../../../agent/ecs/document.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import { FakeSource } from '../../../../agent/sources/fake.js';
import type { ConnectionRecord } from '../../../../agent/sources/types.js';
import type { TrackedListener } from '../../../../agent/watch/listener-diff.js';
import { RelayWatch } from '../../../../agent/watch/relay-watch.js';
import { Harness } from '../detect/harness.js';

const NS = '4026532001';

function conn(pid: number, local: [string, number], remote: [string, number], read: number, wrote: number, inode: number): ConnectionRecord {
  return { pid, netns: NS, family: 'ipv4', localAddress: local[0], localPort: local[1], remoteAddress: remote[0], remotePort: remote[1], inode, bytesRead: read, bytesWritten: wrote };
}

/** A relay's two connections: a client's on port 8080 and one to 10.9.9.9:22 carrying its bytes. */
const relayPair = (pid: number): ConnectionRecord[] => [
  conn(pid, ['10.0.0.1', 8080], ['198.51.100.4', 40000], 500, 2000, 1),
  conn(pid, ['10.0.0.1', 41000], ['10.9.9.9', 22], 2000, 501, 2),
];

function setup(maxPerLook?: number) {
  const h = new Harness('linux');
  const engine = h.engine();
  const source = new FakeSource();
  const shipped: EcsDocument[] = [];
  let listeners: TrackedListener[] = [];
  const watch = new RelayWatch({
    source, listeners: () => listeners, table: h.table, builder: h.builder, sink: { accept: (d) => { shipped.push(d); return Promise.resolve(); } },
    detect: () => (doc) => engine.evaluate(doc), intervalMs: () => 1000, logger: silentLogger,
    ...(maxPerLook === undefined ? {} : { maxPerLook: () => maxPerLook }),
  });
  const listen = (...owners: number[]) => {
    const owner = h.table.get(owners[0] ?? 0);
    listeners = [{ key: `l${String(owners[0])}`, firstSeen: '', owner, record: { netns: NS, transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 8080, inode: 9, owners } }];
  };
  const unlisten = () => { listeners = []; };
  return { h, source, shipped, watch, listen, unlisten };
}

test('a fork-per-connection child of a listener that relays is found; only the connection that alerted ships, with its alert', async () => {
  const { h, source, shipped, watch, listen } = setup();
  const parent = h.chain({ name: 'systemd' }, { name: 'relayd', executable: '/opt/relayd/relayd' });
  const child = h.spawn(parent, { name: 'relayd', executable: '/opt/relayd/relayd' });
  const bystander = h.chain({ name: 'curl', executable: '/usr/bin/curl' });
  listen(parent.record.pid);
  source.established = [...relayPair(child.record.pid), ...relayPair(bystander.record.pid)];
  assert.equal(await watch.check(new Date('2026-01-05T12:00:00Z')), 2);
  assert.deepEqual(source.asked, [[parent.record.pid, child.record.pid].sort((a, b) => a - b)], 'the holder and its child, not an unrelated process');
  assert.deepEqual(shipped.map((d) => d.event.action), ['connection_observed', 'suspicious_connection']);
  assert.equal(getField(shipped[0], 'network.direction'), 'egress');
  assert.equal(getField(shipped[1], 'process.pid'), child.record.pid);
  assert.equal(getField(shipped[1], 'destination.ip'), '10.9.9.9');
  assert.equal(getField(shipped[1], 'portwarden.alert.trigger_event_id'), shipped[0]?.event.id);
});

test('a one-shot forwarder that closed its listener when it accepted stays watched for 10 minutes', async () => {
  const { h, source, shipped, watch, listen, unlisten } = setup();
  const nc = h.chain({ name: 'bash' }, { name: 'fwd1', executable: '/home/u/fwd1' });
  const pid = nc.record.pid;
  listen(pid);
  assert.equal(await watch.check(new Date('2026-01-05T12:00:00Z')), 0, 'listening, nothing accepted yet');
  unlisten();
  source.established = relayPair(pid);
  assert.equal(await watch.check(new Date('2026-01-05T12:00:05Z')), 2);
  assert.equal(getField(shipped[1], 'process.pid'), pid);
  source.asked = [];
  await watch.check(new Date('2026-01-05T12:11:00Z'));
  assert.deepEqual(source.asked, [], 'forgotten after 10 minutes without a listener');
});

test('socket activation\'s children, expected forwarders and loopback-only or one-sided processes raise nothing', async () => {
  const { h, source, shipped, watch, listen } = setup();
  const init = h.spawn(undefined, { name: 'systemd', executable: '/usr/lib/systemd/systemd' });
  const service = h.spawn(init, { name: 'fwd2', executable: '/opt/fwd2' });
  listen(init.record.pid);
  source.established = relayPair(service.record.pid);
  assert.equal(await watch.check(new Date('2026-01-05T12:00:00Z')), 0);
  assert.deepEqual(source.asked, [[init.record.pid]], 'pid 1 holds sockets for socket units: its children are not its forwarders');

  const docker = h.chain({ name: 'dockerd', executable: '/usr/bin/dockerd' }, { name: 'docker-proxy', executable: '/usr/bin/docker-proxy' });
  listen(docker.record.pid);
  source.asked = [];
  await watch.check(new Date('2026-01-05T12:00:01Z'));
  assert.ok(!source.asked.flat().includes(docker.record.pid), 'an expected forwarder is not read');

  const app = h.chain({ name: 'app', executable: '/opt/app/app' });
  listen(app.record.pid);
  const pid = app.record.pid;
  source.established = [
    conn(pid, ['10.0.0.1', 8080], ['198.51.100.4', 40000], 500, 2000, 1),
    conn(pid, ['127.0.0.1', 41000], ['127.0.0.1', 6379], 2000, 501, 2),
    // Accepted on the IPv4-mapped address of a dual-stack listener: not an outbound connection.
    conn(pid, ['::ffff:10.0.0.1', 8080], ['::ffff:198.51.100.5', 40001], 2000, 501, 3),
  ];
  assert.equal(await watch.check(new Date('2026-01-05T12:00:02Z')), 0);
  assert.deepEqual(shipped, []);
});

test('on a host with more listening processes than the former-holder bound, a one-shot forwarder is still remembered', async () => {
  const { h, source, watch, listen } = setup();
  const workers: number[] = [];
  const master = h.chain({ name: 'systemd' }, { name: 'php-fpm', executable: '/usr/sbin/php-fpm' });
  for (let i = 0; i < 1100; i++) workers.push(h.spawn(master, { name: 'php-fpm', executable: '/usr/sbin/php-fpm' }).record.pid);
  const fwd = h.chain({ name: 'bash' }, { name: 'fwd1', executable: '/home/u/fwd1' });
  listen(fwd.record.pid, master.record.pid, ...workers);
  await watch.check(new Date('2026-01-05T12:00:00Z'));
  listen(master.record.pid, ...workers);
  source.established = relayPair(fwd.record.pid);
  source.asked = [];
  assert.equal(await watch.check(new Date('2026-01-05T12:00:05Z')), 2, 'the forwarder that closed its listener is caught');
  assert.ok(source.asked.flat().includes(fwd.record.pid));
});

test('under detect.relay.max_per_look, short-lived children appearing at every look do not starve a long-lived worker: it is read again and its relay found', async () => {
  const { h, source, shipped, watch, listen } = setup(2);
  const server = h.chain({ name: 'bash' }, { name: 'srv', executable: '/opt/srv/srv' });
  const worker = h.spawn(server, { name: 'srv', executable: '/opt/srv/srv' });
  listen(server.record.pid);
  let brief: number[] = [];
  const look = async (i: number) => {
    // The children forked for the previous look's connections are gone, two new ones came.
    for (const pid of brief) h.table.exit(pid, Date.UTC(2026, 0, 5, 12, 0, i));
    brief = [1, 2].map(() => h.spawn(server, { name: 'srv', executable: '/opt/srv/srv' }).record.pid);
    await watch.check(new Date(Date.UTC(2026, 0, 5, 12, 0, i)));
  };
  await look(0);
  assert.deepEqual(source.asked, [[server.record.pid, worker.record.pid]], 'the first look reads the first two');
  // From now on the worker relays; 4 candidates (server, worker, two new children) at every look.
  source.established = relayPair(worker.record.pid);
  source.asked = [];
  for (let i = 1; i <= 2; i++) await look(i);
  assert.ok(source.asked.flat().includes(worker.record.pid), `the worker read again within 2 looks: ${JSON.stringify(source.asked)}`);
  assert.deepEqual(shipped.filter((d) => d.event.action === 'suspicious_connection').map((d) => getField(d, 'process.pid')), [worker.record.pid]);
});
