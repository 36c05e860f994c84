import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readlinkSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { FULL_READS_PER_POLL } from '../../../agent/sources/linux/index.js';
import { parseSsLine } from '../../../agent/sources/linux/proc-parsers.js';
import { cliPath } from '../../../testkit/paths.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { createNetns, startListenerChain } from '../../helpers/listeners.js';

const run = promisify(execFile);
const ownNetns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? '';

/** `proto addr port netns pids` for every listener ss sees in one namespace. */
async function ssKeys(netns: string, nsName?: string): Promise<Set<string>> {
  const cmd = nsName === undefined ? ['ss', '-ltnupHe'] : ['ip', 'netns', 'exec', nsName, 'ss', '-ltnupHe'];
  const { stdout } = await run(cmd[0] ?? 'ss', cmd.slice(1), { maxBuffer: 64 * 1024 * 1024 });
  const keys = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const row = parseSsLine(line);
    assert.ok(row, `ss line not understood: ${line}`);
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    keys.add(`${row.transport} ${row.address} ${row.port} ${netns} [${[...new Set(pids)].join(',')}]`);
  }
  return keys;
}

function docKey(d: EcsDocument): string {
  const owners = [...(getField(d, 'portwarden.listener.owners') as number[])].sort((a, b) => a - b);
  return `${String(getField(d, 'network.transport'))} ${String(getField(d, 'destination.address'))} ${String(getField(d, 'destination.port'))} ${String(getField(d, 'portwarden.listener.netns'))} [${owners.join(',')}]`;
}

/**
 * A busy host: more processes than one poll reads in full (FULL_READS_PER_POLL), so that the first
 * poll of `portwarden listeners` defers most of them (agent/sources/linux/process-details.ts).
 */
function busyHost(t: TestContext): void {
  const idle = Array.from({ length: FULL_READS_PER_POLL + 20 }, () => spawn('sleep', ['300'], { stdio: 'ignore' }));
  t.after(() => { for (const p of idle) p.kill('SIGKILL'); });
}

test('listeners --json agrees with ss -ltnupH on (protocol, address, port, pids) in every namespace', async (t) => {
  const ns = createNetns('pworacle');
  t.after(() => { ns.remove(); });
  const nsId = String(statSync(`/run/netns/${ns.name}`).ino);
  const here = await startListenerChain('oracle', ['tcp:0.0.0.0:0', 'udp6:[::1]:0', 'tcp6:[::]:0', 'udp:0.0.0.0:0']);
  t.after(() => { here.kill(); });
  const there = await startListenerChain('oracle-ns', ['tcp:127.0.0.1:0', 'udp:0.0.0.0:0'], ns.name);
  t.after(() => { there.kill(); });
  busyHost(t);

  // Other tests open and close listeners meanwhile: ss samples the table before, during and after
  // our run. What every sample saw must be reported; nothing may be reported that no sample saw.
  const snapshot = async () => new Set([...await ssKeys(ownNetns), ...await ssKeys(nsId, ns.name)]);
  const round = async () => {
    const samples: Set<string>[] = [await snapshot()];
    let done = false;
    const sampler = (async () => {
      while (!done) samples.push(await snapshot());
    })();
    const { stdout } = await run(process.execPath, [cliPath, 'listeners', '--json'], { maxBuffer: 64 * 1024 * 1024 });
    done = true;
    await sampler;
    samples.push(await snapshot());
    const docs = stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EcsDocument);
    const ours = new Set(docs.filter((d) => [ownNetns, nsId].includes(String(getField(d, 'portwarden.listener.netns')))).map(docKey));
    const ever = new Set(samples.flatMap((x) => [...x]));
    const stable = [...(samples[0] ?? [])].filter((k) => samples.every((x) => x.has(k)));
    const missing = stable.filter((k) => !ours.has(k));
    // A listener of a process that has ended since lived between two ss samples (other tests open
    // 20 ms listeners): ss may miss it, portwarden's kernel events do not. Owners still running count.
    const ownersAlive = (k: string) => (/\[([\d,]*)\]$/.exec(k)?.[1] ?? '').split(',').filter((x) => x !== '').every((pid) => existsSync(`/proc/${pid}`));
    const extra = [...ours].filter((k) => !ever.has(k) && ownersAlive(k));
    return { docs, stable, missing, extra };
  };

  // A listener another test opens and closes within one ss sample, in a process that lives on, or
  // a socket a fork holds for the instant before its exec, is a race between two readers, not a
  // disagreement: a difference counts when a second round, with new samples, shows it again.
  const first = await round();
  let { missing, extra } = first;
  // This test's own listeners hold still: for them the first round is final.
  const ownPorts = new Set([...here.opened, ...there.opened].map((o) => String(o.port)));
  const own = (k: string) => ownPorts.has(k.split(' ')[2] ?? '');
  assert.deepEqual([...missing, ...extra].filter(own), [], 'this test\'s own listeners: as ss sees them, in the first round');
  if (missing.length > 0 || extra.length > 0) {
    t.diagnostic(`first round differed (checked again): missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)}`);
    const again = await round();
    missing = missing.filter((k) => again.missing.includes(k));
    extra = extra.filter((k) => again.extra.includes(k));
  }
  const { docs, stable } = first;
  assert.deepEqual(missing, [], 'listeners ss saw that portwarden did not report (in both rounds)');
  assert.deepEqual(extra, [], 'listeners portwarden reported that ss never saw (in both rounds)');
  for (const o of [...here.opened, ...there.opened]) {
    assert.ok(docs.some((d) => getField(d, 'destination.port') === o.port), `port ${o.port} (${o.spec}) reported`);
  }
  assert.ok(stable.some((k) => k.includes(` ${nsId} `)), 'the other namespace was compared');
  for (const d of docs) {
    assert.equal(d.event.action, 'listening_existing');
    assert.deepEqual(ecsProblems(d), []);
  }
});

test('listeners: readable table, --port filter, usage errors exit 2', async (t) => {
  const here = await startListenerChain('tabled', ['tcp:127.0.0.1:0']);
  t.after(() => { here.kill(); });
  busyHost(t);
  const port = here.opened[0]?.port ?? 0;
  const { stdout } = await run(process.execPath, [cliPath, 'listeners', '--port', String(port)]);
  const lines = stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /^PROTO\s+LOCAL ADDRESS\s+SCOPE\s+PID\s+USER\s+NETNS\s+PROCESS <- ANCESTRY$/);
  assert.equal(lines.length, 2, stdout);
  assert.match(lines[1] ?? '', new RegExp(`^tcp\\s+127\\.0\\.0\\.1:${port}\\s+loopback\\s+\\d+\\s+root\\s+host\\s+python3\\[\\d+\\] <- sh\\[\\d+\\] <- tabled\\[\\d+\\]`));
  await assert.rejects(run(process.execPath, [cliPath, 'listeners', '--port', 'http']), (e: { code?: number; stderr?: string }) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr ?? '', /--port expects a whole number/);
    return true;
  });
  await assert.rejects(run(process.execPath, [cliPath, 'listeners', '--bogus']), (e: { code?: number }) => e.code === 2);
});

test('without CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH: another user\'s listener has no owner, said once, exit 0', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to run a listener as another user and the CLI with no capabilities');
    return;
  }
  // The listener belongs to uid 65534; the CLI runs with an empty capability set (as uid 0, so it
  // can read this checkout wherever CI clones it), so it may not look into that process's fds.
  // node itself is the other user's listener: it is executable by everyone, unlike a pyenv shim.
  const code = "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); }); setTimeout(() => {}, 120000);";
  const other = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
  t.after(() => { other.kill('SIGKILL'); });
  const port = await new Promise<string>((resolve, reject) => {
    other.stdout.once('data', (b: Buffer) => { resolve(b.toString().trim()); });
    other.once('exit', (c) => { reject(new Error(`listener exited ${String(c)}`)); });
  });
  const { stdout, stderr } = await run('setpriv', ['--inh-caps=-all', '--bounding-set=-all', process.execPath, cliPath, 'listeners', '--port', port]);
  const row = stdout.trim().split('\n')[1] ?? '';
  assert.match(row, new RegExp(`^tcp\\s+127\\.0\\.0\\.1:${port}\\s+loopback\\s+-\\s+nobody\\s+host\\s+\\(owner unknown: needs privileges\\)$`));
  assert.equal(stderr.match(/CAP_SYS_PTRACE \+ CAP_DAC_READ_SEARCH/g)?.length, 1, stderr);
});
