/**
 * Relays by behaviour against the real agent (`portwarden run`, polling only and with the
 * real-time source, which reports the listeners as they open): in a private network
 * namespace with a second address (192.0.2.2), real socat (with fork, and a one-shot socat that closes its listener when it accepts) and node under
 * another name forward a client's connection to a server there. Both raise pw-listener-relay with
 * the forwarded-to destination. A plain listener talking to its client, and an application server
 * that calls the same server for each request (inbound and outbound at once, bytes its own), do not.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { startAgent } from '../../helpers/agent-process.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { waitFor } from '../../helpers/wait.js';

const root = process.getuid?.() === 0;
const hasSocat = (() => { try { execFileSync('socat', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();

const TARGET = `
import socket, threading, sys
s = socket.socket(); s.bind(("192.0.2.2", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
def serve(c):
    f = c.makefile("rb")
    line = f.readline()
    c.sendall(b"target-banner " + line)
    while c.recv(4096): pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** An application server: each request makes its own call to the target (other bytes both ways). */
const APP = `
import socket, threading, sys
port = int(sys.argv[1])
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
def serve(c):
    c.makefile("rb").readline()
    up = socket.create_connection(("192.0.2.2", port))
    up.sendall(b"SELECT name FROM users WHERE id = 42\\n")
    up.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")
    while c.recv(4096): pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** A plain listener: answers its client, opens nothing. */
const PLAIN = `
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); c.makefile("rb").readline(); c.sendall(b"hello yourself\\n")
while c.recv(4096): pass
`;

const FORWARDER = `
const net = require('node:net');
const [host, port] = [process.argv[2], Number(process.argv[3])];
const srv = net.createServer((c) => { const up = net.connect(port, host); c.pipe(up); up.pipe(c); c.on('error', () => {}); up.on('error', () => {}); });
srv.listen(0, '127.0.0.1', () => { console.log(srv.address().port); });
`;

/** Connects, says one line, reads the answer, then holds the connection until killed. */
const CLIENT = `
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"hello relay, this is the client speaking\\n")
print(c.recv(4096).decode().strip(), flush=True)
while c.recv(4096): pass
`;

function events(agent: RunningAgent): EcsDocument[] {
  try {
    return agent.events();
  } catch {
    return [];
  }
}

/** The agent's own log (debug level in tests). */
function agentLog(agent: RunningAgent): string {
  try {
    return readFileSync(join(agent.dir, 'agent.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Starts `args` inside the namespace; resolves with the process and the first line it prints. */
async function inNs(t: TestContext, ns: string, args: string[]): Promise<{ proc: ChildProcessWithoutNullStreams; line: string }> {
  const proc = spawn('ip', ['netns', 'exec', ns, ...args]);
  t.after(() => { proc.kill('SIGKILL'); });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const line = await new Promise<string>((resolve, reject) => {
    proc.stdout.once('data', (b: Buffer) => { resolve(b.toString().trim().split('\n')[0] ?? ''); });
    proc.once('exit', (code) => { reject(new Error(`${args.join(' ')} exited (${String(code)}): ${err}`)); });
  });
  return { proc, line };
}

for (const realtime of ['off', 'ebpf'] as const) {
  test(`a listener relaying its client to another host raises pw-listener-relay with the forwarded-to end; a plain listener and an app server calling out do not (source.realtime: ${realtime})`, {
    skip: !root ? 'needs root (network namespaces)' : !hasSocat ? 'socat is not installed' : false, timeout: 240_000,
  }, async (t) => { await relays(t, realtime); });
}

async function relays(t: TestContext, realtime: 'off' | 'ebpf'): Promise<void> {
  const agent = startAgent(`events: { process: true }\nsource: { realtime: ${realtime} }\ndetect: { relay: { interval: 500ms } }\n`);
  t.after(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const started = await waitFor('the started event', () => events(agent).find((d) => d.event.action === 'started'), 90_000);
  const mode = getField(started, 'portwarden.collector.realtime.mode');
  if (realtime === 'ebpf' && mode !== 'ebpf') {
    t.skip(`the real-time source did not start here (mode ${String(mode)})`);
    return;
  }

  const ns = `pw-relay-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => { try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ } });
  // The second address sits on lo (kernels without the dummy link type have lo everywhere).
  for (const cmd of [['link', 'set', 'lo', 'up'], ['addr', 'add', '192.0.2.2/32', 'dev', 'lo']]) execFileSync('ip', ['netns', 'exec', ns, 'ip', ...cmd]);

  const target = await inNs(t, ns, ['python3', '-c', TARGET]);
  const targetPort = Number(target.line);
  // Not relays: set up first, so they are connected during every check that finds the relays.
  const app = await inNs(t, ns, ['python3', '-c', APP, String(targetPort)]);
  const plain = await inNs(t, ns, ['python3', '-c', PLAIN]);
  assert.match((await inNs(t, ns, ['python3', '-c', CLIENT, app.line])).line, /^HTTP\/1\.0 200 OK/);
  assert.equal((await inNs(t, ns, ['python3', '-c', CLIENT, plain.line])).line, 'hello yourself');

  // socat with fork: the child that took the connection relays it. Its port is one the OS gave
  // inside this fresh namespace (nothing else listens there).
  const free = (await inNs(t, ns, ['python3', '-c', 'import socket\ns=socket.socket()\ns.bind(("127.0.0.1",0))\nprint(s.getsockname()[1])'])).line;
  const socat = spawn('ip', ['netns', 'exec', ns, 'socat', `TCP-LISTEN:${free},bind=127.0.0.1,reuseaddr,fork`, `TCP:192.0.2.2:${targetPort}`], { stdio: 'ignore' });
  t.after(() => { socat.kill('SIGKILL'); });
  const socatPid = socat.pid ?? -1;
  await waitFor('socat to listen', () => events(agent).find((d) => d.event.action === 'listening_started' && getField(d, 'process.pid') === socatPid), 45_000);
  const viaSocat = await inNs(t, ns, ['python3', '-c', CLIENT, free]);
  assert.equal(viaSocat.line, 'target-banner hello relay, this is the client speaking');

  // A forwarder of its own under a name no rule knows: node, started through a link named svc-cache.
  const dir = mkdtempSync(join(tmpdir(), 'pw-relay-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  symlinkSync(process.execPath, join(dir, 'svc-cache'));
  writeFileSync(join(dir, 'fwd.js'), FORWARDER);
  const fwd = await inNs(t, ns, [join(dir, 'svc-cache'), join(dir, 'fwd.js'), '192.0.2.2', String(targetPort)]);
  const fwdPid = fwd.proc.pid ?? -1;
  assert.equal((await inNs(t, ns, ['python3', '-c', CLIENT, fwd.line])).line, 'target-banner hello relay, this is the client speaking');

  // socat without fork: it closes its listener when it accepts, then relays in the same process.
  const once = (await inNs(t, ns, ['python3', '-c', 'import socket\ns=socket.socket()\ns.bind(("127.0.0.1",0))\nprint(s.getsockname()[1])'])).line;
  const oneShot = spawn('ip', ['netns', 'exec', ns, 'socat', `TCP-LISTEN:${once},bind=127.0.0.1,reuseaddr`, `TCP:192.0.2.2:${targetPort}`], { stdio: 'ignore' });
  t.after(() => { oneShot.kill('SIGKILL'); });
  const oneShotPid = oneShot.pid ?? -1;
  await waitFor('the relay watch to watch the one-shot socat', () => agentLog(agent).includes(`watching socat (pid ${String(oneShotPid)})`) || undefined, 45_000);
  assert.equal((await inNs(t, ns, ['python3', '-c', CLIENT, once])).line, 'target-banner hello relay, this is the client speaking');

  const relayAlert = (about: (d: EcsDocument) => boolean) => waitFor('a pw-listener-relay alert', () => events(agent).find((d) => d.event.kind === 'alert' && getField(d, 'rule.id') === 'pw-listener-relay' && about(d)), 60_000)
    .catch((err: unknown) => {
      const seen = events(agent).filter((d) => d.event.kind === 'alert').map((d) => `${String(getField(d, 'rule.id'))} on ${String(getField(d, 'process.name'))} ${String(getField(d, 'event.reason'))}`);
      throw new Error(`${String(err)}; alerts seen: ${JSON.stringify(seen)}`);
    });
  const bySocat = await relayAlert((d) => getField(d, 'process.parent.pid') === socatPid || getField(d, 'process.pid') === socatPid);
  const byFwd = await relayAlert((d) => getField(d, 'process.pid') === fwdPid);
  for (const a of [bySocat, byFwd]) {
    assert.deepEqual(ecsProblems(a), []);
    assert.equal(a.event.action, 'suspicious_connection');
    assert.equal(getField(a, 'destination.ip'), '192.0.2.2', 'the forwarded-to host');
    assert.equal(getField(a, 'destination.port'), targetPort);
    assert.equal(getField(a, 'network.direction'), 'egress');
    assert.equal(getField(a, 'portwarden.relay.evidence'), 'bytes');
    assert.equal(getField(a, 'portwarden.relay.inbound.ip'), '127.0.0.1');
    assert.equal(getField(a, 'event.severity'), 73);
    assert.deepEqual(getField(a, 'threat.technique.id'), ['T1090']);
    // The connection it fired on is shipped with it.
    const trigger = events(agent).find((d) => d.event.id === getField(a, 'portwarden.alert.trigger_event_id'));
    assert.equal(trigger?.event.action, 'connection_observed');
    assert.deepEqual(ecsProblems(trigger), []);
  }
  const byOneShot = await relayAlert((d) => getField(d, 'process.pid') === oneShotPid);
  assert.equal(getField(byOneShot, 'portwarden.relay.inbound.local_port'), Number(once));
  assert.equal(getField(byOneShot, 'destination.ip'), '192.0.2.2');
  assert.equal(getField(bySocat, 'process.name'), 'socat');
  assert.equal(getField(bySocat, 'portwarden.relay.inbound.local_port'), Number(free));
  assert.equal(getField(byFwd, 'process.name'), 'svc-cache');
  assert.equal(getField(byFwd, 'portwarden.relay.inbound.local_port'), Number(fwd.line));
  assert.match(String(getField(byFwd, 'event.reason')), /svc-cache accepted 127\.0\.0\.1:\d+ on port \d+ and relays it to 192\.0\.2\.2:\d+/);

  const quiet = new Set([app.proc.pid, plain.proc.pid]);
  const wrong = events(agent).filter((d) => getField(d, 'rule.id') === 'pw-listener-relay' && (quiet.has(getField(d, 'process.pid') as number) || quiet.has(getField(d, 'process.parent.pid') as number)));
  assert.deepEqual(wrong.map((d) => getField(d, 'event.reason')), []);
  assert.equal(events(agent).filter((d) => d.event.action === 'connection_observed' && quiet.has(getField(d, 'process.pid') as number)).length, 0, 'their connections are not shipped');
}
