/**
 * The relay watch's per-look budget (detect.relay.max_per_look) against real processes: in a
 * private network namespace with a second address (192.0.2.2), a pool of forked workers that each
 * relay one client's connection to a server there. The Linux source reads the real listeners,
 * processes and established connections; detection is the real engine. With a budget of 2, each
 * look reads at most 2 candidate processes, the others wait, and within ceil(candidates / 2) looks
 * every one was read once (round robin) and every relaying worker raised its alert; the budget's
 * numbers are reported.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { LinuxSource } from '../../../agent/sources/linux/source.js';
import type { TrackedListener } from '../../../agent/watch/listener-diff.js';
import { RelayWatch } from '../../../agent/watch/relay-watch.js';
import { Harness } from '../../unit/agent/detect/harness.js';

const skip = process.platform !== 'linux' ? 'Linux only' : process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;

const WORKERS = 5;
const BUDGET = 2;

const TARGET = `
import socket, threading
s = socket.socket(); s.bind(("192.0.2.2", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
def serve(c):
    line = c.makefile("rb").readline()
    c.sendall(b"target-banner " + line)
    while c.recv(4096): pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** A pre-forked pool: each worker accepts one client and relays its line to the target and the answer back, then holds both. */
const POOL = `
import json, os, socket, sys, time
n, target = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
workers = []
for i in range(n):
    pid = os.fork()
    if pid == 0:
        c, _ = s.accept()
        line = c.makefile("rb").readline()
        up = socket.create_connection(("192.0.2.2", target))
        up.sendall(line)
        c.sendall(up.recv(4096))
        time.sleep(3600)
        os._exit(0)
    workers.append(pid)
print(json.dumps({"port": s.getsockname()[1], "workers": workers}), flush=True)
time.sleep(3600)
`;

const CLIENTS = `
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"hello relay, this is client %d speaking\\n" % i)
    c.recv(4096)
    held.append(c)
print("done", flush=True)
time.sleep(3600)
`;

/**
 * Starts python3 with `script` inside the namespace (`ip netns exec` execs it: the pid is python's),
 * in a process group of its own; resolves with the process and the first line it prints. The whole
 * group is killed after the test: a pool's forked workers too, also when the test failed before
 * it knew their pids.
 */
async function inNs(t: TestContext, ns: string, script: string, args: string[]): Promise<{ proc: ChildProcessWithoutNullStreams; line: string }> {
  const proc = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script, ...args], { detached: true });
  t.after(() => {
    const pid = proc.pid;
    if (pid === undefined || pid <= 1) return; // never spawned (and -0 would be our own group)
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const line = await new Promise<string>((resolve, reject) => {
    proc.stdout.once('data', (b: Buffer) => { resolve(b.toString().trim().split('\n')[0] ?? ''); });
    proc.once('exit', (code) => { reject(new Error(`python3 exited (${String(code)}): ${err}`)); });
  });
  return { proc, line };
}

test(`a pool of ${WORKERS} relaying workers under detect.relay.max_per_look ${BUDGET}: at most ${BUDGET} processes read per look, each read once within the round, every worker's relay found, the numbers reported`, { skip, timeout: 120_000 }, async (t) => {
  const ns = `pw-rbudget-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => { try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ } });
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', '192.0.2.2/32', 'dev', 'lo']);

  const target = await inNs(t, ns, TARGET, []);
  const pool = await inNs(t, ns, POOL, [String(WORKERS), target.line]);
  const { port, workers } = JSON.parse(pool.line) as { port: number; workers: number[] };
  const clients = await inNs(t, ns, CLIENTS, [String(port), String(WORKERS)]);
  assert.equal(clients.line, 'done');

  const source = new LinuxSource({ logger: silentLogger });
  await source.start();
  t.after(() => source.shutdown());
  const netns = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pool.proc.pid ?? 0}/ns/net`))?.[1];
  const snap = await source.poll();
  const h = new Harness('linux');
  for (const p of snap.processes.values()) if (p.netns === netns) h.table.upsert(p);
  const listeners: TrackedListener[] = snap.listeners.filter((l) => l.netns === netns && l.transport === 'tcp')
    .map((record) => ({ key: `${record.address}|${record.port}`, record, owner: h.table.get(record.owners[0] ?? 0), firstSeen: '' }));
  const poolPid = pool.proc.pid ?? 0;
  const targetPid = target.proc.pid ?? 0;
  const candidates = [poolPid, targetPid, ...workers];
  assert.ok(listeners.some((l) => l.record.port === port), 'the pool\'s listener is read');

  // The source as the watch sees it, each look's question kept.
  const asked: number[][] = [];
  const read = source.connections.bind(source);
  const seen = Object.assign(Object.create(source) as LinuxSource, { connections: (pids: readonly number[]) => { asked.push([...pids]); return read(pids); } });
  const engine = h.engine();
  const shipped: EcsDocument[] = [];
  const watch = new RelayWatch({
    source: seen, listeners: () => listeners, table: h.table, builder: h.builder, sink: { accept: (d) => { shipped.push(d); return Promise.resolve(); } },
    detect: () => (doc) => engine.evaluate(doc), intervalMs: () => 1000, maxPerLook: () => BUDGET, logger: silentLogger,
  });

  const looks = Math.ceil(candidates.length / BUDGET);
  for (let i = 0; i < looks; i++) await watch.check(new Date(Date.UTC(2026, 0, 5, 12, 0, i)));
  t.diagnostic(`asked: ${JSON.stringify(asked)}; pool ${poolPid}, target ${targetPid}, workers ${workers.join(",")}`);
  for (const [i, pids] of asked.entries()) assert.ok(pids.length <= BUDGET, `look ${i + 1} read ${pids.length} processes: ${pids.join(', ')}`);
  // Round robin: no process is read again while another still waits (a last look with room left starts the next round).
  const read1 = new Set<number>();
  for (const pids of asked) {
    const again = pids.filter((p) => read1.has(p));
    for (const p of pids) read1.add(p);
    if (again.length > 0) assert.equal(read1.size, candidates.length, `${again.join(', ')} read again while others waited`);
  }
  assert.deepEqual([...read1].sort((a, b) => a - b), [...candidates].sort((a, b) => a - b), 'every candidate read within the round');
  const alerted = new Set(shipped.filter((d) => d.event.action === 'suspicious_connection').map((d) => Number(getField(d, 'process.pid'))));
  assert.deepEqual([...alerted].sort((a, b) => a - b), [...workers].sort((a, b) => a - b), 'every relaying worker found, none starved');
  const report = watch.budgetReport();
  assert.deepEqual(report && { ...report, last_over_budget: undefined }, {
    max_per_look: BUDGET, candidates: candidates.length, deferred: candidates.length - BUDGET, looks_over_budget: looks, last_over_budget: undefined,
  });
});
