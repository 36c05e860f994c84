/**
 * The real-time Linux source against the real kernel: listeners and processes that live far
 * shorter than a poll, on each `source.realtime` mode. Polls are 5 s apart here, so what is seen in
 * between was seen through the kernel's events.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { startAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { cliPath, fixture } from '../../../testkit/paths.js';

const root = process.getuid?.() === 0;
const STORM = 2000;

/** A copy of /bin/sh named `name` (the process table then shows that name). */
function namedShell(name: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pw-rt-')), name);
  copyFileSync('/bin/sh', path);
  chmodSync(path, 0o755);
  return path;
}

/** Runs `file args` to its end; resolves with its pid and stdout. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ pid: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(new Error(err.message));
      else resolve({ pid: child.pid ?? 0, stdout });
    });
  });
}

async function startRealtime(t: TestContext, mode: string, source = `{ realtime: ${mode}, reconcile_interval: 5s }`): Promise<RunningAgent> {
  const agent = startAgent(`events: { process: true }\nsource: ${source}\n`, { interval: '5s' });
  t.after(() => agent.stop());
  const started = await waitFor('the started event', () => agent.events().find((d) => d.event.action === 'started'), 30_000);
  // The first poll is done once its listener inventory is out: from then on polls are 5 s apart.
  await waitFor('the first inventory', () => agent.events().find((d) => d.event.action === 'listening_existing'), 30_000);
  const rt = getField(started, 'portwarden.collector.realtime') as { mode: string; reasons: string[] } | undefined;
  const want = mode === 'auto' ? 'ebpf' : mode;
  assert.equal(rt?.mode, want, `real-time mode (reasons: ${JSON.stringify(rt?.reasons)}; agent stderr: ${agent.stderr()})`);
  return agent;
}

const find = (docs: EcsDocument[], action: string, transport: string, port: number) =>
  docs.find((d) => d.event.action === action && getField(d, 'network.transport') === transport && getField(d, 'destination.port') === port);

/** Four listeners (TCP and UDP, IPv4 and IPv6) that live 20 ms, under `flashapp -> python3`. */
async function flashListeners(t: TestContext, agent: RunningAgent): Promise<void> {
  const outer = namedShell('flashapp');
  const specs = ['tcp:127.0.0.1:0', 'tcp6:[::1]:0', 'udp:127.0.0.1:0', 'udp6:[::1]:0'];
  const { stdout } = await run(outer, ['-c', 'python3 "$@"; exit 0', 'flashapp', fixture('scripts', 'flash.py'), ...specs]);
  const flashed = JSON.parse(stdout.trim()) as { pid: number; opened: { spec: string; port: number }[] };
  const want = flashed.opened.map((o) => [o.spec.startsWith('udp') ? 'udp' : 'tcp', o.port] as const);
  const docs = await waitFor('listening_started and listening_stopped of every 20 ms listener', () => {
    const all = agent.events();
    return want.every(([tr, port]) => find(all, 'listening_stopped', tr, port) !== undefined) ? all : undefined;
  }, 15_000).catch((err: unknown) => {
    t.diagnostic(`wanted ${JSON.stringify(want)}; seen: ${agent.events().filter((d) => d.event.dataset === 'portwarden.network').map((d) => `${d.event.action} ${String(getField(d, 'destination.port'))} ${d['@timestamp']}`).join(', ')}`);
    throw err;
  });
  for (const [tr, port] of want) {
    const started = find(docs, 'listening_started', tr, port);
    const stopped = find(docs, 'listening_stopped', tr, port);
    const what = `${tr}:${port}`;
    assert.ok(started && stopped, what);
    assert.deepEqual(ecsProblems(started), [], what);
    assert.equal(getField(started, 'process.pid'), flashed.pid, what);
    assert.match(String(getField(started, 'process.executable')), /python3/, what);
    assert.equal(getField(started, 'process.parent.name'), 'flashapp', what);
    assert.equal(getField(stopped, 'process.pid'), flashed.pid, what);
    const ms = Number(stopped.event.duration) / 1e6;
    assert.ok(ms >= 10 && ms < 2000, `${what} lived ${ms} ms`);
  }
}

/**
 * A `php-fpm8.2` whose child shell lives a few ms, and a child orphaned (its parent gone) before it
 * execs a shell: both alerts name the web server as the parent.
 */
async function webShell(agent: RunningAgent, kernelEnd: boolean): Promise<void> {
  const fpm = namedShell('php-fpm8.2');
  // The subshell outlives php-fpm8.2 (which exits at once) and then becomes `sh` by exec. With eBPF
  // the shell lives a few ms (dash execs `id` in its place); the proc connector reads /proc after
  // each message, so its shell stays a shell for 50 ms (documented: a process that changes its
  // image or exits within about a millisecond may be seen only as what it became).
  const child = kernelEnd ? 'id >/dev/null' : 'id >/dev/null; sleep 0.05';
  const script = `sh -c "${child}"; ( sleep 0.2; exec sh -c "${child}" ) & exit 0`;
  const { pid } = await run(fpm, ['-c', script]);
  const alerts = await waitFor('both parent-child alerts', () => {
    const a = agent.events().filter((d) => d.event.action === 'unusual_parent_child' && getField(d, 'process.name') === 'sh'
      && getField(d, 'process.parent.name') === 'php-fpm8.2' && getField(d, 'process.parent.pid') === pid);
    return a.length >= 2 ? a : undefined;
  }, 15_000);
  const [direct, orphan] = alerts;
  assert.ok(direct !== undefined && orphan !== undefined);
  assert.notEqual(getField(direct, 'process.pid'), getField(orphan, 'process.pid'));
  // The second shell exec'd after php-fpm8.2 had ended (the script makes it so: php-fpm8.2 exits at
  // once, the subshell execs 0.2 s later): lineage captured at fork, not at exec. With eBPF both
  // times are the kernel's; the proc connector races its polls (every 250 ms after process
  // activity), which may report the end first, stamped when the poll saw it.
  const ended = await waitFor('php-fpm8.2 ended', () => agent.events().find((d) => d.event.action === 'end' && getField(d, 'process.pid') === pid), 10_000);
  if (kernelEnd) assert.ok(orphan['@timestamp'] >= ended['@timestamp'], `${orphan['@timestamp']} after ${ended['@timestamp']}`);
  const lineage = getField(orphan, 'portwarden.lineage') as { pid: number; name: string }[];
  assert.equal(lineage.at(0)?.pid, pid);
}

/**
 * 2,000 execs of /bin/true from one shell: each is reported, or the shortfall is said in-band.
 * `named`: each with its name (eBPF reads it in the kernel; the proc connector reads /proc after
 * the event, and a process gone by then is reported without it, as documented).
 */
async function execStorm(agent: RunningAgent, named = true): Promise<void> {
  const spawner = namedShell('stormer');
  const { pid } = await run(spawner, ['-c', `i=0; while [ $i -lt ${STORM} ]; do /bin/true; i=$((i+1)); done`]);
  const count = () => agent.events().filter((d) => d.event.action === 'exec' && getField(d, 'process.parent.pid') === pid
    && (!named || getField(d, 'process.name') === 'true')).length;
  const lostInBand = () => agent.events().reduce((n, d) => n + Number(getField(d, 'portwarden.collector.realtime_lost') ?? 0), 0);
  await waitFor('every exec of the storm, or its shortfall in-band', () => {
    const n = count();
    return n >= STORM * 0.99 || n + lostInBand() >= STORM ? true : undefined;
  }, 60_000).catch((err: unknown) => {
    throw new Error(`${count()} of ${STORM} execs reported, ${lostInBand()} lost in-band: ${String(err)}`);
  });
}

test('real-time auto (eBPF): 20 ms listeners, a web server\'s few-ms child shell, an exec storm', { skip: !root && 'needs root (eBPF, proc connector)' }, async (t) => {
  const agent = await startRealtime(t, 'auto');
  await flashListeners(t, agent);
  await webShell(agent, true);
  await execStorm(agent);
  // Nothing in between was left to a poll: each listener started and stopped exactly once.
  const docs = agent.events().filter((d) => d.event.action === 'listening_started' && getField(d, 'process.parent.name') === 'flashapp');
  assert.equal(docs.length, 4);
});

test('real-time ebpf: 20 ms listeners; an overflowing ring buffer is reported in-band and reconciled', { skip: !root && 'needs root (eBPF)' }, async (t) => {
  const agent = await startRealtime(t, 'ebpf');
  await flashListeners(t, agent);
  await agent.stop();

  // A ring buffer of one page cannot hold a storm: the loss is counted in the kernel and said
  // in-band, and the reconciling poll (1 s here) brings what was lost into the listener set.
  let chainPid: number | undefined;
  const tiny = await startRealtime(t, 'ebpf', '{ realtime: ebpf, ring_buffer: 4KiB, reconcile_interval: 1s }');
  const spawner = namedShell('stormer');
  const storm = run(spawner, ['-c', `i=0; while [ $i -lt ${STORM} ]; do /bin/true; i=$((i+1)); done`]);
  // The agent stopped for a second (as a long GC pause or a swapped-out page would stop it): the
  // kernel keeps producing, the ring fills, the rest is dropped and counted.
  const agentPid = tiny.proc.pid ?? 0;
  process.kill(agentPid, 'SIGSTOP');
  let opened: { spec: string; port: number }[];
  try {
    const chain = spawn('python3', [fixture('scripts', 'listen.py'), 'tcp:127.0.0.1:0', 'udp:127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => chain.kill('SIGKILL'));
    opened = await new Promise<{ spec: string; port: number }[]>((resolve) => {
      chain.stdout.once('data', (b: Buffer) => { resolve(JSON.parse(b.toString()) as { spec: string; port: number }[]); });
    });
    chainPid = chain.pid;
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    process.kill(agentPid, 'SIGCONT');
  }
  await storm;
  const lost = await waitFor('the lost count in-band', () => {
    const n = tiny.events().reduce((sum, d) => sum + Number(getField(d, 'portwarden.collector.realtime_lost') ?? 0), 0);
    return n > 0 ? n : undefined;
  }, 20_000);
  assert.ok(lost > 0);
  const ports = opened.map((o) => [o.spec.startsWith('udp') ? 'udp' : 'tcp', o.port] as const);
  await waitFor('the listeners opened during the storm', () => ports.every(([tr, port]) => find(tiny.events(), 'listening_started', tr, port)) || undefined, 20_000);
  for (const [tr, port] of ports) {
    const docs = tiny.events().filter((d) => d.event.action === 'listening_started' && getField(d, 'network.transport') === tr && getField(d, 'destination.port') === port);
    assert.equal(docs.length, 1, `${tr}:${port} started once`);
    assert.equal(getField(docs[0] ?? {}, 'process.pid'), chainPid);
  }
});

test('real-time proc_connector: a web server\'s few-ms child shell and an exec storm; listeners by polling, as documented', { skip: !root && 'needs root (CAP_NET_ADMIN)' }, async (t) => {
  const agent = await startRealtime(t, 'proc_connector');
  const started = agent.events().find((d) => d.event.action === 'started');
  const blind = getField(started ?? {}, 'portwarden.collector.realtime.blind') as string[];
  assert.ok(blind.some((b) => /listeners are seen by polling only/.test(b)), JSON.stringify(blind));
  // events.connections defaults to alerts: the proc connector says it cannot see them.
  assert.ok(blind.some((b) => /outbound connections are not seen/.test(b)), JSON.stringify(blind));
  await webShell(agent, false);
  await execStorm(agent, false);
});

test('real-time off: polling only, said at start', async (t) => {
  const agent = await startRealtime(t, 'off');
  const started = agent.events().find((d) => d.event.action === 'started');
  assert.match(String(started?.message), /real-time: off/);
  const reasons = getField(started ?? {}, 'portwarden.collector.realtime.reasons') as string[];
  assert.deepEqual(reasons, ['real-time source off in the config (source.realtime: off)']);
  // Today's behaviour: a listener that outlives a poll (5 s here) is seen opening and closing.
  const chain = spawn('python3', [fixture('scripts', 'listen.py'), 'tcp:127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => chain.kill('SIGKILL'));
  const [opened] = await new Promise<{ spec: string; port: number }[]>((resolve) => {
    chain.stdout.once('data', (b: Buffer) => { resolve(JSON.parse(b.toString()) as { spec: string; port: number }[]); });
  });
  const port = opened?.port ?? -1;
  const doc = await waitFor('the listener seen by a poll', () => find(agent.events(), 'listening_started', 'tcp', port), 15_000);
  assert.equal(getField(doc, 'process.pid'), chain.pid);
  chain.kill('SIGKILL');
  await waitFor('its close seen by a poll', () => find(agent.events(), 'listening_stopped', 'tcp', port), 15_000);
});

test('portwarden listeners names the real-time path `run` gets, and why a better one cannot run', { skip: !root && 'needs root and setpriv (util-linux) to drop capabilities' }, async () => {
  const stderrOf = (file: string, args: string[]) => new Promise<string>((resolve, reject) => {
    execFile(file, args, { timeout: 60_000 }, (err, _out, stderr) => { if (err) reject(new Error(`${err.message}: ${stderr}`)); else resolve(stderr); });
  });
  assert.match(await stderrOf(process.execPath, [cliPath, 'listeners']), /real-time source for `portwarden run`: ebpf\n/);
  // Still uid 0 (so it reads this checkout wherever CI clones it), with no capability at all.
  const unprivileged = await stderrOf('setpriv', ['--inh-caps=-all', '--bounding-set=-all', process.execPath, cliPath, 'listeners']);
  assert.match(unprivileged, /real-time source for `portwarden run`: off \(eBPF: .*needs CAP_BPF and CAP_PERFMON.*; proc connector: .*needs CAP_NET_ADMIN\)/);
  // A pid namespace of its own (a container without hostPID): kernel pids would not match /proc.
  const ownPidNs = await stderrOf('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, cliPath, 'listeners']);
  assert.match(ownPidNs, /real-time source for `portwarden run`: off \(the agent is not in the host's pid namespace/);
});
