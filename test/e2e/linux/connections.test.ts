/**
 * Outbound connection events from the real-time Linux source against the real kernel: real clients
 * connecting to real listeners in a private network namespace, whose lo also carries a TEST-NET
 * address (198.51.100.7, 2001:db8::7): a peer that is not loopback by its number, so the default
 * loopback filter lets it through while 127.0.0.1 stays filtered.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { startAgent } from '../../helpers/agent-process.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { createNetns, startListenerChain } from '../../helpers/listeners.js';
import { waitFor } from '../../helpers/wait.js';
import { fixture, sharedDir } from '../../../testkit/paths.js';

const root = process.getuid?.() === 0;
const skip = !root && 'needs root (eBPF, network namespaces)';
const V4 = '198.51.100.7';
const V6 = '2001:db8::7';

interface Peers { netns: string; v4: number; v6: number; loopback: number }

/** A private network namespace with TEST-NET addresses on lo and a TCP listener on each address. */
async function peers(t: TestContext): Promise<Peers> {
  const ns = createNetns('pw-conn');
  t.after(() => { ns.remove(); });
  execFileSync('ip', ['-n', ns.name, 'addr', 'add', `${V4}/32`, 'dev', 'lo']);
  execFileSync('ip', ['-n', ns.name, 'addr', 'add', `${V6}/128`, 'dev', 'lo', 'nodad']);
  const chain = await startListenerChain('peerapp', [`tcp:${V4}:0`, `tcp6:[${V6}]:0`, 'tcp:127.0.0.1:0'], ns.name);
  t.after(() => { chain.kill(); });
  const [v4, v6, loopback] = chain.opened.map((o) => o.port);
  assert.ok(v4 !== undefined && v6 !== undefined && loopback !== undefined);
  return { netns: ns.name, v4, v6, loopback };
}

/** Runs `argv` inside the namespace (`ip netns exec` execs it: same pid) to its end; resolves with its pid and stdout. */
function runIn(netns: string, argv: string[]): Promise<{ pid: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', netns, ...argv], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}: ${stderr}`));
      else resolve({ pid: child.pid ?? 0, stdout });
    });
  });
}

/** The client fixture (connect.py); its pid comes from its own output. */
async function connectFrom(netns: string, specs: string[]): Promise<number> {
  const { stdout } = await runIn(netns, ['python3', fixture('scripts', 'connect.py'), ...specs]);
  return (JSON.parse(stdout.trim()) as { pid: number }).pid;
}

/** The BPF programs a process holds open, by name (its fds' fdinfo prog_id, named by bpftool). */
function bpfProgramsOf(pid: number): string[] {
  const ids = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m?.[1] !== undefined) ids.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return [...ids].map((id) => (JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', id, '--json'], { encoding: 'utf8' })) as { name?: string }).name ?? '').sort();
}

async function startWith(t: TestContext, yaml: string): Promise<RunningAgent> {
  const agent = startAgent(`source: { realtime: ebpf, reconcile_interval: 5s }\n${yaml}`, { interval: '5s' });
  t.after(() => agent.stop());
  const started = await waitFor('the started event', () => agent.events().find((d) => d.event.action === 'started'), 30_000);
  const rt = getField(started, 'portwarden.collector.realtime') as { mode: string; reasons: string[] } | undefined;
  assert.equal(rt?.mode, 'ebpf', `real-time mode (reasons: ${JSON.stringify(rt?.reasons)}; agent stderr: ${agent.stderr()})`);
  return agent;
}

const attempts = (docs: EcsDocument[], pid: number) => docs.filter((d) => d.event.action === 'connection_attempted' && getField(d, 'process.pid') === pid);

test('events.connections: all ships every attempt with its process; short-lived clients attributed; dedupe and the loopback filter in the kernel', { skip }, async (t) => {
  const p = await peers(t);
  const agent = startAgent(`events: { connections: all }\nsource: { realtime: ebpf, reconcile_interval: 5s, connections: { dedupe_window: 2s } }\n`
    + `heartbeat: { schedule: '* * * * * *' }\n`, { interval: '5s' });
  t.after(() => agent.stop());
  const started = await waitFor('the started event', () => agent.events().find((d) => d.event.action === 'started'), 30_000);
  assert.equal(getField(started, 'portwarden.collector.realtime.mode'), 'ebpf', agent.stderr());
  assert.equal(getField(started, 'portwarden.collector.realtime.connections'), true);
  assert.ok(bpfProgramsOf(agent.proc.pid ?? 0).includes('pw_conn_btf'), 'the connection program is attached');

  // A shell that connects with its own socket and exits at once (a reverse shell's shape).
  const shell = await runIn(p.netns, ['bash', '-c', `exec 3<>/dev/tcp/${V4}/${p.v4}`]);
  const [seen] = await waitFor('the shell\'s attempt', () => {
    const a = attempts(agent.events(), shell.pid);
    return a.length > 0 ? a : undefined;
  }, 15_000);
  assert.ok(seen !== undefined);
  assert.deepEqual(ecsProblems(seen), []);
  assert.equal(getField(seen, 'process.name'), 'bash');
  assert.match(String(getField(seen, 'process.executable')), /\/bash$/);
  assert.equal(getField(seen, 'process.parent.pid'), process.pid);
  assert.equal(getField(seen, 'destination.ip'), V4);
  assert.equal(getField(seen, 'destination.port'), p.v4);
  assert.equal(getField(seen, 'network.direction'), 'egress');
  assert.equal(getField(seen, 'network.transport'), 'tcp');
  assert.equal(getField(seen, 'network.type'), 'ipv4');
  assert.deepEqual(getField(seen, 'event.type'), ['connection', 'start']);
  const alert = await waitFor('the built-in reverse-shell alert', () => agent.events().find((d) => d.event.action === 'suspicious_connection'
    && getField(d, 'rule.id') === 'pw-lnx-shell-connects-out' && getField(d, 'process.pid') === shell.pid), 15_000);
  assert.equal(getField(alert, 'portwarden.alert.trigger_event_id'), seen.event.id);

  // One client: loopback (filtered), five attempts to one peer (one event, four folded), a pause
  // longer than the window, once more (a new event that says four were folded), then another peer.
  const pid = await connectFrom(p.netns, [`127.0.0.1:${p.loopback}`, `[${V6}]:${p.v6}*5`, 'sleep:2.5', `[${V6}]:${p.v6}`, `${V4}:${p.v4}`]);
  const docs = await waitFor('the client\'s last attempt', () => {
    const a = attempts(agent.events(), pid);
    return a.some((d) => getField(d, 'destination.ip') === V4) ? a : undefined;
  }, 15_000);
  const v6 = docs.filter((d) => getField(d, 'destination.ip') === V6);
  assert.equal(v6.length, 2, 'six attempts to one peer in two windows: two events');
  assert.equal(getField(v6[0] ?? {}, 'portwarden.connection.suppressed'), undefined);
  assert.equal(getField(v6[1] ?? {}, 'portwarden.connection.suppressed'), 4);
  assert.equal(getField(v6[0] ?? {}, 'network.type'), 'ipv6');
  assert.equal(getField(v6[0] ?? {}, 'destination.port'), p.v6);
  assert.match(String(getField(v6[0] ?? {}, 'process.executable')), /python3/);
  assert.equal(docs.filter((d) => getField(d, 'destination.ip') === '127.0.0.1').length, 0, 'loopback peers are filtered by default');
  assert.equal(docs.length, 3);
  // The kernel's counters in the heartbeat: what it folded and what it skipped as loopback.
  await waitFor('a heartbeat with the folded and skipped attempts', () => agent.events().find((d) => d.event.action === 'heartbeat'
    && Number(getField(d, 'portwarden.collector.connections.suppressed')) >= 4 && Number(getField(d, 'portwarden.collector.connections.loopback')) >= 1), 15_000);
});

test('a Sigma network_connection rule fires on a live connection; with events.connections: alerts only the alert ships', { skip }, async (t) => {
  const p = await peers(t);
  const ruleFile = join(mkdtempSync(join(tmpdir(), 'pw-conn-rules-')), 'egress-port.yml');
  // A SigmaHQ-shaped rule (logsource network_connection, Initiated, DestinationPort) for this test's port.
  writeFileSync(ruleFile, [
    'title: Outbound Connection To The Test Port',
    'id: 5f0c3a52-8f3c-4c59-9d1e-2b7a41c0e001',
    'status: test',
    'description: A process on Linux initiated a TCP connection to the port the test listens on.',
    'references:',
    '  - https://github.com/SigmaHQ/sigma-specification',
    'author: portwarden tests',
    'date: 2026-12-07',
    'tags:',
    '  - attack.command-and-control',
    '  - attack.t1571',
    'logsource:',
    '  category: network_connection',
    '  product: linux',
    'detection:',
    '  selection:',
    "    Initiated: 'true'",
    `    DestinationPort: ${p.v4}`,
    '  condition: selection',
    'level: high',
    '',
  ].join('\n'));
  // And SigmaHQ's own "Linux Reverse Shell Indicator" as published (DRL 1.1), when the corpus is here.
  const published = join(sharedDir, 'sigma', 'rules', 'linux', 'network_connection', 'net_connection_lnx_back_connect_shell_dev.yml');
  const files = existsSync(published) ? [ruleFile, published] : [ruleFile];
  const agent = await startWith(t, `detect: { rule_files: ${JSON.stringify(files)} }\n`);
  const pid = await connectFrom(p.netns, [`${V4}:${p.v4}`]);
  const alert = await waitFor('the Sigma alert', () => agent.events().find((d) => d.event.action === 'suspicious_connection' && getField(d, 'process.pid') === pid), 15_000);
  assert.deepEqual(ecsProblems(alert), []);
  assert.equal(getField(alert, 'rule.id'), '5f0c3a52-8f3c-4c59-9d1e-2b7a41c0e001');
  assert.equal(getField(alert, 'rule.name'), 'Outbound Connection To The Test Port');
  assert.equal(getField(alert, 'rule.ruleset'), 'sigma');
  assert.deepEqual(getField(alert, 'rule.author'), ['portwarden tests']);
  assert.equal(getField(alert, 'destination.port'), p.v4);
  assert.equal(getField(alert, 'network.direction'), 'egress');
  assert.match(String(getField(alert, 'process.executable')), /python3/);
  assert.deepEqual(getField(alert, 'threat.technique.id'), ['T1571']);
  if (files.length > 1) {
    const shell = await runIn(p.netns, ['bash', '-c', `exec 3<>/dev/tcp/${V6}/${p.v6}`]);
    const sigma = await waitFor('the published rule\'s alert', () => agent.events().find((d) => getField(d, 'rule.id') === '83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871'
      && getField(d, 'process.pid') === shell.pid), 15_000);
    assert.equal(getField(sigma, 'rule.name'), 'Linux Reverse Shell Indicator');
    assert.equal(getField(sigma, 'rule.license'), 'DRL-1.1');
    assert.deepEqual(getField(sigma, 'rule.author'), ['Florian Roth (Nextron Systems)']);
    assert.equal(getField(sigma, 'destination.ip'), V6);
  } else {
    t.diagnostic(`SigmaHQ corpus not found (${published}): the published rule was not run`);
  }
  // alerts (the default): the connection fed detection but did not ship on its own.
  assert.equal(agent.events().filter((d) => d.event.action === 'connection_attempted').length, 0);
});

test('events.connections: off attaches no connection program, and connections raise nothing', { skip }, async (t) => {
  const p = await peers(t);
  const agent = await startWith(t, 'events: { connections: off }\n');
  const started = agent.events().find((d) => d.event.action === 'started') ?? {};
  assert.equal(getField(started, 'portwarden.collector.realtime.connections'), false);
  const programs = bpfProgramsOf(agent.proc.pid ?? 0);
  assert.ok(programs.includes('pw_sock_btf'), `the agent's programs: ${programs.join(', ')}`);
  assert.deepEqual(programs.filter((n) => n.startsWith('pw_conn')), []);
  // A reverse-shell-shaped connection, then a listener that opens after it: once the listener is
  // seen (the kernel delivers in order), the connection would have been too.
  const shell = await runIn(p.netns, ['bash', '-c', `exec 3<>/dev/tcp/${V4}/${p.v4}`]);
  const late = await startListenerChain('lateapp', ['tcp:127.0.0.1:0']);
  t.after(() => { late.kill(); });
  await waitFor('the later listener', () => agent.events().find((d) => d.event.action === 'listening_started' && getField(d, 'destination.port') === late.opened[0]?.port), 15_000);
  // (Its command line still raises the process rule for /dev/tcp: that one needs no connection event.)
  const network = agent.events().filter((d) => getField(d, 'process.pid') === shell.pid && ['connection_attempted', 'suspicious_connection'].includes(d.event.action));
  assert.deepEqual(network.map((d) => getField(d, 'rule.id') ?? d.event.action), []);
});
