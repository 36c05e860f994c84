import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { getField } from '../../../../agent/ecs/document.js';
import type { ProcessNode } from '../../../../agent/lineage/process-table.js';
import type { ConnectionRecord } from '../../../../agent/sources/types.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { Harness, ids } from './harness.js';

const T = Date.parse('2026-01-05T12:00:00.000Z');
const at = (s: number) => new Date(T + s * 1000).toISOString();

/** A client on 203.0.113.5 connected to the process's port 8443; it sent `fromClient` bytes and got `toClient`. */
function accepted(pid: number, fromClient: number, toClient: number, client = '203.0.113.5'): ConnectionRecord {
  return { pid, netns: '4026531840', family: 'ipv4', localAddress: '10.1.2.3', localPort: 8443, remoteAddress: client, remotePort: 51000, inode: 7001, bytesRead: fromClient, bytesWritten: toClient };
}
/** A connection the process opened to `ip:port`, having written `wrote` and read `read` bytes. */
function opened(pid: number, ip: string, port: number, wrote: number, read: number): ConnectionRecord {
  return { pid, netns: '4026531840', family: ip.includes(':') ? 'ipv6' : 'ipv4', localAddress: '10.1.2.3', localPort: 40100, remoteAddress: ip, remotePort: port, inode: 7002, bytesRead: read, bytesWritten: wrote };
}

/** One look of the relay watch: the accepted connection, then the opened one, at second `s`. */
function look(h: Harness, engine: ReturnType<Harness['engine']>, node: ProcessNode, pair: [ConnectionRecord, ConnectionRecord], s = 0): EcsDocument[] {
  const anc = h.table.ancestors(node);
  const alerts = [...engine.evaluate(h.builder.connection(pair[0], 'ingress', node, anc, at(s))), ...engine.evaluate(h.builder.connection(pair[1], 'egress', node, anc, at(s)))];
  for (const a of alerts) assert.deepEqual(ecsProblems(a), []);
  return alerts.filter((a) => getField(a, 'rule.id') === 'pw-listener-relay');
}

test('a forwarder of any name whose bytes match client to target is a relay (high, T1090) carrying the forwarded-to end', () => {
  const h = new Harness('linux');
  const eng = h.engine();
  const fwd = h.chain({ name: 'systemd' }, { name: 'kworker-net', executable: '/dev/shm/.k/kworker-net', commandLine: '/dev/shm/.k/kworker-net' });
  // 1,317 bytes from the client went to 172.16.9.20:3389, and the 48,211 that came back went to the client.
  const [alert, ...more] = look(h, eng, fwd, [accepted(fwd.record.pid, 1317, 48211), opened(fwd.record.pid, '172.16.9.20', 3389, 1317, 48211)]);
  assert.equal(more.length, 0);
  assert.ok(alert !== undefined);
  assert.equal(getField(alert, 'event.severity'), 73);
  assert.deepEqual(getField(alert, 'threat.technique.id'), ['T1090']);
  assert.equal(getField(alert, 'destination.ip'), '172.16.9.20');
  assert.equal(getField(alert, 'destination.port'), 3389);
  assert.equal(getField(alert, 'portwarden.relay.evidence'), 'bytes');
  assert.deepEqual(getField(alert, 'portwarden.relay.inbound'), { ip: '203.0.113.5', port: 51000, local_port: 8443, bytes_from_client: 1317, bytes_to_client: 48211 });
  assert.deepEqual(getField(alert, 'portwarden.relay.forwarded_to'), { ip: '172.16.9.20', port: 3389 });
  assert.match(String(getField(alert, 'event.reason')), /^kworker-net accepted 203\.0\.113\.5:51000 on port 8443 and relays it to 172\.16\.9\.20:3389/);
  // Fired once per process and forwarded-to end.
  assert.deepEqual(look(h, eng, fwd, [accepted(fwd.record.pid, 2000, 50000), opened(fwd.record.pid, '172.16.9.20', 3389, 2000, 50000)], 5), []);
});

test('byte proof allows what is in flight (1 %) and the SYN Linux counts in the connecting side\'s bytes_acked; other counts are no proof', () => {
  const h = new Harness('linux');
  const eng = h.engine();
  const p = (name: string) => h.chain({ name, executable: `/opt/x/${name}` });
  const a = p('fwd-a');
  assert.equal(look(h, eng, a, [accepted(a.record.pid, 6, 13), opened(a.record.pid, '192.0.2.2', 4000, 7, 13)]).length, 1);
  const b = p('fwd-b');
  assert.equal(look(h, eng, b, [accepted(b.record.pid, 1_000_000, 20_000), opened(b.record.pid, '192.0.2.2', 4000, 995_000, 20_000)]).length, 1);
  // An application server: it took a 412-byte request and answered 2,870 bytes; its database call
  // sent 96 bytes and read 1,530. Inbound and outbound at once is not a relay.
  const app = p('gunicorn');
  assert.deepEqual(look(h, eng, app, [accepted(app.record.pid, 412, 2870), opened(app.record.pid, '10.0.5.20', 5432, 96, 1530)]), []);
  // Nothing moved yet: no proof (a client connected to a forwarder that has not spoken). The
  // kernel reports the forwarder's fresh outbound connection as 1 byte written (its SYN), which is
  // within the tolerance of the client's 0: still no proof.
  const idle = p('fwd-idle');
  assert.deepEqual(look(h, eng, idle, [accepted(idle.record.pid, 0, 0), opened(idle.record.pid, '10.0.5.20', 22, 0, 0)]), []);
  const fresh = p('fwd-fresh');
  assert.deepEqual(look(h, eng, fresh, [accepted(fresh.record.pid, 0, 0), opened(fresh.record.pid, '10.0.5.20', 22, 1, 0)]), []);
  assert.deepEqual(look(h, eng, fresh, [accepted(fresh.record.pid, 1, 0), opened(fresh.record.pid, '10.0.5.21', 22, 1, 0)]), [], 'the client\'s byte not forwarded yet');
  assert.equal(look(h, eng, fresh, [accepted(fresh.record.pid, 1, 0), opened(fresh.record.pid, '10.0.5.22', 22, 2, 0)]).length, 1, 'its byte forwarded');
});

test('not a relay to another host: loopback targets, the client\'s own host, an accepted connection long gone', () => {
  const h = new Harness('linux');
  const eng = h.engine();
  const n = h.chain({ name: 'fwd', executable: '/opt/fwd' });
  const pid = n.record.pid;
  assert.deepEqual(look(h, eng, n, [accepted(pid, 50, 60), opened(pid, '127.0.0.1', 6379, 50, 60)]), []);
  assert.deepEqual(look(h, eng, n, [accepted(pid, 50, 60), opened(pid, '::1', 6379, 50, 60)]), []);
  assert.deepEqual(look(h, eng, n, [accepted(pid, 50, 60), opened(pid, '203.0.113.5', 22, 50, 60)]), []);
  const anc = h.table.ancestors(n);
  assert.deepEqual(ids(eng.evaluate(h.builder.connection(accepted(pid, 50, 60), 'ingress', n, anc, at(0)))), []);
  assert.deepEqual(ids(eng.evaluate(h.builder.connection(opened(pid, '198.51.100.7', 22, 50, 60), 'egress', n, anc, at(60)))), [], 'a minute apart is not at the same time');
});

test('expected forwarders from system directories are quiet; the same names elsewhere are not', () => {
  const h = new Harness('linux');
  const eng = h.engine();
  const pair = (pid: number): [ConnectionRecord, ConnectionRecord] => [accepted(pid, 300, 900), opened(pid, '172.17.0.2', 80, 300, 900)];
  const docker = h.chain({ name: 'dockerd', executable: '/usr/bin/dockerd' }, { name: 'docker-proxy', executable: '/usr/bin/docker-proxy' });
  assert.deepEqual(look(h, eng, docker, pair(docker.record.pid)), []);
  const nginx = h.chain({ name: 'nginx', executable: '/usr/sbin/nginx' });
  assert.deepEqual(look(h, eng, nginx, pair(nginx.record.pid)), []);
  // OpenSSH 9.8+: a jump host's session process (ssh -J through it) under sshd.
  const session = h.chain({ name: 'sshd', executable: '/usr/sbin/sshd' }, { name: 'sshd-session', executable: '/usr/lib/openssh/sshd-session' });
  assert.deepEqual(look(h, eng, session, pair(session.record.pid)), []);
  const pooler = h.chain({ name: 'pgbouncer', executable: '/usr/local/bin/pgbouncer' });
  assert.deepEqual(look(h, eng, pooler, pair(pooler.record.pid)), [], 'a connection pooler below /usr/local');
  const fake = h.chain({ name: 'docker-proxy', executable: '/home/ci/.x/docker-proxy' });
  assert.equal(look(h, eng, fake, pair(fake.record.pid)).length, 1);
});

test('a known relay or tunnel tool without byte proof fires at medium on its second look (T1090 socat, T1572 chisel, ssh -L)', () => {
  const h = new Harness('linux');
  const eng = h.engine();
  for (const [name, technique] of [['socat', 'T1090'], ['chisel', 'T1572'], ['ssh', 'T1572']] as const) {
    const n = h.chain({ name, executable: `/usr/bin/${name}` });
    // ssh -L 8443:db:5432 host: the outbound connection is the encrypted tunnel, never byte for byte.
    const pair: [ConnectionRecord, ConnectionRecord] = [accepted(n.record.pid, 120, 0), opened(n.record.pid, '198.51.100.9', 22, 3120, 2200)];
    assert.deepEqual(look(h, eng, n, pair, 0), [], `${name}: one look is not enough`);
    const [alert] = look(h, eng, n, pair, 5);
    assert.ok(alert !== undefined, name);
    assert.equal(getField(alert, 'event.severity'), 47);
    assert.deepEqual(getField(alert, 'threat.technique.id'), [technique]);
    assert.equal(getField(alert, 'portwarden.relay.evidence'), 'tool');
  }
  // ssh -L 8443:db:5432 used by a client on the same host: an administrator's everyday forward,
  // low as pw-ssh-tunnel rates -L; the same tunnel serving another host stays medium (above).
  const admin = h.chain({ name: 'ssh', executable: '/usr/bin/ssh' });
  const local: [ConnectionRecord, ConnectionRecord] = [accepted(admin.record.pid, 120, 0, '127.0.0.1'), opened(admin.record.pid, '198.51.100.9', 22, 3120, 2200)];
  assert.deepEqual(look(h, eng, admin, local, 0), []);
  const [low] = look(h, eng, admin, local, 5);
  assert.equal(getField(low, 'event.severity'), 21);
  assert.deepEqual(getField(low, 'threat.technique.id'), ['T1572']);
  const socat = h.chain({ name: 'socat', executable: '/usr/bin/socat' });
  const viaSocat: [ConnectionRecord, ConnectionRecord] = [accepted(socat.record.pid, 120, 0, '127.0.0.1'), opened(socat.record.pid, '198.51.100.9', 22, 3120, 2200)];
  look(h, eng, socat, viaSocat, 0);
  assert.equal(getField(look(h, eng, socat, viaSocat, 5)[0], 'event.severity'), 47, 'a relay tool for a local client is still medium');
});

test('detect.allowlist silences relays by program or by forwarded-to CIDR and port', () => {
  const h = new Harness('linux');
  const eng = h.engine({ allowlist: [
    { rules: ['pw-listener-relay'], programs: ['/opt/dbrouter/dbrouter'] },
    { rules: ['pw-listener-relay'], cidrs: ['10.20.0.0/16'], ports: [5432] },
  ] });
  const pair = (pid: number, ip: string, port: number): [ConnectionRecord, ConnectionRecord] => [accepted(pid, 500, 800), opened(pid, ip, port, 500, 800)];
  const bouncer = h.chain({ name: 'dbrouter', executable: '/opt/dbrouter/dbrouter' });
  assert.deepEqual(look(h, eng, bouncer, pair(bouncer.record.pid, '192.168.1.5', 5432)), []);
  const other = h.chain({ name: 'tcpfwd', executable: '/opt/tcpfwd' });
  assert.deepEqual(look(h, eng, other, pair(other.record.pid, '10.20.3.4', 5432)), []);
  assert.equal(look(h, eng, other, pair(other.record.pid, '10.20.3.4', 22)).length, 1, 'another port of that network is not allowed');
  assert.equal(look(h, eng, other, pair(other.record.pid, '10.99.3.4', 5432)).length, 1, 'another network is not allowed');
});
