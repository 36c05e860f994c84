import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { Harness, ids } from './harness.js';

const lx = new Harness('linux');
const win = new Harness('windows');

function fire(h: Harness, owner: Parameters<Harness['listenerDoc']>[0], addr: string, port: number, config: unknown = {}, transport: 'tcp' | 'udp' = 'tcp') {
  const alerts = h.engine({ baseline: { enabled: false }, ...(config as object) }).evaluate(h.listenerDoc(owner, addr, port, transport));
  for (const a of alerts) {
    assert.deepEqual(ecsProblems(a), [], `alert ${JSON.stringify(a.rule)} is valid ECS`);
    if (a.event.action === 'unusual_listener') assert.deepEqual(a.event.category, ['process', 'intrusion_detection', 'network']);
    else assert.equal(a.event.action, 'unusual_parent_child', 'parent-child rules also run on the owner');
  }
  return alerts;
}
const sevOf = (alerts: ReturnType<typeof fire>, id: string) => alerts.find((a) => (a.rule as { id: string }).id === id)?.event.severity;

test('sensitive port exposed: Redis on 0.0.0.0 is high, on a private address medium, on loopback nothing', () => {
  const redis = lx.chain({ name: 'redis-server', executable: '/usr/bin/redis-server' });
  assert.equal(sevOf(fire(lx, redis, '0.0.0.0', 6379), 'pw-listener-sensitive-exposed'), 73);
  assert.equal(sevOf(fire(lx, redis, '10.0.0.5', 6379), 'pw-listener-sensitive-exposed'), 47);
  assert.deepEqual(ids(fire(lx, redis, '127.0.0.1', 6379)), []);
  const sshd = lx.chain({ name: 'sshd', executable: '/usr/sbin/sshd' });
  assert.deepEqual(ids(fire(lx, sshd, '0.0.0.0', 22)), [], 'SSH by sshd is not an exposure alert');
});

test('sensitive port with an unexpected owner; severity grows with scope', () => {
  const fake = win.chain({ name: 'RogueWinRM.exe', executable: 'C:\\Users\\u\\RogueWinRM.exe' });
  const loop = fire(win, fake, '127.0.0.1', 5985);
  assert.equal(sevOf(loop, 'pw-listener-sensitive-unexpected-owner'), 21);
  assert.equal(sevOf(fire(win, fake, '0.0.0.0', 5985), 'pw-listener-sensitive-unexpected-owner'), 73);
  assert.deepEqual((loop[0]?.threat as { technique: { subtechnique: { id: string[] } } }).technique.subtechnique.id, ['T1021.006']);
  const system = win.chain({ name: 'System' });
  assert.deepEqual(ids(fire(win, system, '0.0.0.0', 5985)), []);
  assert.deepEqual(ids(fire(lx, undefined, '0.0.0.0', 3306)), [], 'unknown owner: no owner verdict, MySQL exposure is not alerted');
});

test('known C2 / bind-shell port fires at any scope; a neighbouring port does not', () => {
  const srv = lx.chain({ name: 'myapp', executable: '/opt/myapp/bin/myapp' });
  assert.equal(sevOf(fire(lx, srv, '127.0.0.1', 1337), 'pw-listener-suspicious-port'), 47);
  assert.deepEqual(ids(fire(lx, srv, '0.0.0.0', 1338)), []);
  assert.deepEqual(ids(fire(lx, srv, '0.0.0.0', 4444, { suspicious_ports: [7000] })), [], 'the list is configurable');
});

test('shell, netcat, LOLBin and never-listening desktop programs as owners', () => {
  assert.ok(ids(fire(lx, lx.chain({ name: 'bash' }, { name: 'nc', executable: '/usr/bin/nc.openbsd' }), '0.0.0.0', 8081)).includes('pw-listener-shell-owner'));
  assert.ok(ids(fire(win, win.chain({ name: 'rundll32.exe' }), '127.0.0.1', 50001)).includes('pw-listener-shell-owner'));
  assert.ok(ids(fire(win, win.chain({ name: 'notepad.exe' }), '127.0.0.1', 7777)).includes('pw-listener-injected-host'));
  assert.ok(ids(fire(win, win.chain({ name: 'EXCEL.EXE' }), '0.0.0.0', 49603)).includes('pw-listener-document-app'));
  assert.deepEqual(ids(fire(lx, lx.chain({ name: 'bash' }, { name: 'node', executable: '/usr/bin/node' }), '0.0.0.0', 3000)), []);
});

test('interpreter listening: exposed fires, loopback (a developer server) does not', () => {
  const py = lx.chain({ name: 'bash' }, { name: 'python3', executable: '/usr/bin/python3.12', commandLine: 'python3 -m http.server' });
  assert.equal(sevOf(fire(lx, py, '::', 8000), 'pw-listener-interpreter-exposed'), 73);
  assert.deepEqual(ids(fire(lx, py, '127.0.0.1', 8000)), []);
});

test('owner running from temp, deleted or in memory', () => {
  assert.ok(ids(fire(lx, lx.chain({ name: 'x', executable: '/tmp/.x/x' }), '0.0.0.0', 8443)).includes('pw-listener-temp-exe'));
  assert.ok(ids(fire(win, win.chain({ name: 'x.exe', executable: 'C:\\Users\\a\\Downloads\\x.exe' }), '0.0.0.0', 8443)).includes('pw-listener-temp-exe'));
  assert.deepEqual(ids(fire(lx, lx.chain({ name: 'x', executable: '/opt/x/x' }), '0.0.0.0', 8443)), []);
  const gone = fire(lx, lx.chain({ name: 'implant', executable: '/home/u/.x/implant', executableDeleted: true }), '0.0.0.0', 8443);
  assert.ok(ids(gone).includes('pw-listener-deleted-exe'));
  const upgraded = fire(lx, lx.chain({ name: 'sshd', executable: '/usr/sbin/sshd', executableDeleted: true }), '0.0.0.0', 22);
  assert.deepEqual(ids(upgraded), ['pw-listener-deleted-system-exe']);
  assert.equal(upgraded[0]?.event.severity, 21);
});

test('listener opened below a web server (webshell) fires; the web server itself does not', () => {
  const ng = lx.chain({ name: 'systemd' }, { name: 'nginx', executable: '/usr/sbin/nginx' });
  const shell = lx.spawn(lx.spawn(ng, { name: 'sh' }), { name: 'perl', executable: '/usr/bin/perl' });
  assert.ok(ids(fire(lx, shell, '0.0.0.0', 8081)).includes('pw-listener-webshell-ancestry'));
  const worker = lx.spawn(ng, { name: 'nginx', executable: '/usr/sbin/nginx' });
  assert.deepEqual(ids(fire(lx, worker, '0.0.0.0', 80)), []);
});

test('http.sys (System) on a non-standard port, not on 445', () => {
  const sys = win.chain({ name: 'System' });
  assert.ok(ids(fire(win, sys, '::', 8000)).includes('pw-listener-system-nonstandard'));
  assert.deepEqual(ids(fire(win, sys, '0.0.0.0', 445)), []);
});

test('allowlists silence by port, program, user, scope and CIDR; a near miss still fires', () => {
  const redis = lx.chain({ name: 'redis-server', executable: '/usr/bin/redis-server', userName: 'redis' });
  assert.deepEqual(ids(fire(lx, redis, '10.0.0.5', 6379, { allowlist: [{ ports: [6379], cidrs: ['10.0.0.0/8'] }] })), []);
  assert.deepEqual(ids(fire(lx, redis, '10.0.0.5', 6379, { allowlist: [{ programs: ['/usr/bin/redis-*'], users: ['redis'], scopes: ['private'] }] })), []);
  assert.deepEqual(ids(fire(lx, redis, '10.0.0.5', 6379, { allowlist: [{ ports: [6379], cidrs: ['192.168.0.0/16'] }] })), ['pw-listener-sensitive-exposed']);
  assert.deepEqual(ids(fire(lx, redis, '0.0.0.0', 6379, { allowlist: [{ rules: ['pw-listener-suspicious-port'], ports: [6379] }] })), ['pw-listener-sensitive-exposed']);
});

test('the same listener identity fires once; another owner of the same port fires again', () => {
  const h = new Harness('linux');
  const e = h.engine({ baseline: { enabled: false } });
  const a = h.chain({ name: 'bash' }, { name: 'nc' });
  assert.equal(e.evaluate(h.listenerDoc(a, '0.0.0.0', 4444)).length, 2);
  assert.equal(e.evaluate(h.listenerDoc(a, '0.0.0.0', 4444)).length, 0);
  assert.equal(e.evaluate(h.listenerDoc(h.chain({ name: 'bash' }, { name: 'nc' }), '0.0.0.0', 4444)).length, 2);
});

test('parent-child rules run on a listener owner too, once per process entity', () => {
  const h = new Harness('linux');
  const e = h.engine({ baseline: { enabled: false } });
  const ng = h.chain({ name: 'nginx', executable: '/usr/sbin/nginx' });
  const sh = h.spawn(ng, { name: 'sh', executable: '/usr/bin/dash' });
  const first = e.evaluate(h.listenerDoc(sh, '127.0.0.1', 8081));
  assert.deepEqual(first.filter((a) => a.event.action === 'unusual_parent_child').map((a) => (a.rule as { id: string }).id), ['pw-lnx-webserver-shell']);
  assert.deepEqual(e.evaluate(h.processDoc(sh, 'already_running')), [], 'the owner already alerted through its listener');
  const sh2 = h.spawn(ng, { name: 'sh', executable: '/usr/bin/dash' });
  assert.deepEqual(ids(e.evaluate(h.processDoc(sh2))), ['pw-lnx-webserver-shell']);
  assert.deepEqual(e.evaluate(h.listenerDoc(sh2, '127.0.0.1', 8082)).filter((a) => a.event.action === 'unusual_parent_child'), [], 'and the other way round');
});
