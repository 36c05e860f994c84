/**
 * What one look of the relay watch costs (agent/watch/relay-watch.ts): the established TCP
 * connections of the listening processes, read as the Linux source reads them (one sock_diag dump
 * of the namespace's established connections with tcp_info, a walk of those processes' fd tables,
 * decoding only the rows they hold), against `ss -tnpi state established`, which reports the same
 * sockets with their owners and byte counters, in the same run.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readlinkSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readConnections } from '../agent/sources/linux/connections.js';
import { parseNsLink } from '../agent/sources/linux/proc-parsers.js';
import { loadSockDiag } from '../agent/sources/linux/sock-diag.js';
import { defaultFdWalker } from '../agent/sources/linux/socket-owners.js';
import type { BenchTable } from './harness.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const CLK_TCK = 100;

/** CPU ms of one `ss ARGS` run, averaged over `n` runs in one shell (its children's CPU). */
async function ssCpu(args: string, n: number): Promise<number> {
  const { stdout } = await run('sh', ['-c', `for i in $(seq ${n}); do ss ${args} >/dev/null; done; cat /proc/$$/stat`], { maxBuffer: 1 << 20 });
  const f = stdout.slice(stdout.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * (1000 / CLK_TCK)) / n;
}

/** `procs` processes, each with a listener and `conns / procs` loopback connections to it (both ends). */
async function shape(procs: number, conns: number): Promise<{ pids: number[]; stop: () => void }> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < procs; i++) children.push(spawn('python3', [join(repo, 'bench', 'scripts', 'shape.py'), '0', String(conns / procs)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  await Promise.all(children.map((p) => new Promise<void>((resolve, reject) => {
    p.stdout?.once('data', () => { resolve(); });
    p.once('exit', (c) => { reject(new Error(`shape.py exited ${String(c)}`)); });
  })));
  return { pids: children.map((p) => p.pid ?? 0), stop: () => { for (const p of children) p.kill('SIGKILL'); } };
}

export default async function relayBench(): Promise<BenchTable[]> {
  const diag = loadSockDiag();
  if (process.platform !== 'linux' || diag === undefined) return [{ title: 'relay watch look', columns: ['skipped'], rows: [['needs Linux and the sock_diag addon']] }];
  const netns = parseNsLink(readlinkSync('/proc/self/ns/net')) ?? '';
  const walker = defaultFdWalker('/proc');
  const rows: (string | number)[][] = [];
  for (const conns of [1_000, 10_000]) {
    const s = await shape(4, conns);
    try {
      const n = conns >= 10_000 ? 20 : 100;
      const problems: string[] = [];
      let found = 0;
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) found = readConnections(diag, walker, '/proc', [{ netns, own: true, pids: s.pids }], problems).length;
      const c = process.cpuUsage(c0);
      const ours = (c.user + c.system) / 1000 / n;
      const ss = await ssCpu('-tnpiH state established', n);
      const established = readFileSync('/proc/net/tcp', 'utf8').split('\n').length - 2;
      rows.push([`${(2 * conns).toLocaleString('en-US')} held by 4 listening processes (${established.toLocaleString('en-US')} IPv4 in the namespace)`, found, ours, ss, ours / ss]);
    } finally {
      s.stop();
    }
  }
  return [{
    title: 'relay watch: one look at the established connections of 4 listening processes',
    columns: ['established sockets', 'reported', 'portwarden CPU ms', 'ss -tnpi CPU ms', 'ratio'],
    rows,
    notes: ['A look runs every detect.relay.interval (5 s) while a TCP listener exists; `ss -tnpi state established` reads the same sockets with owners and tcp_info.'],
  }];
}
