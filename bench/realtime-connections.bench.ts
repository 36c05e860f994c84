// The cost of watching outbound connections (the real-time source's pw_conn program): a connect()
// storm (refused attempts to a port nothing listens on: socket, connect -> SYN_SENT -> RST, close)
// timed with no BPF program, with the other programs only, and with the connection program on its
// three paths (loopback skipped, folded by the dedupe window, recorded). Every case runs in the same
// process and round, interleaved; ratios are against the no-program reference of the same run.
// The kernel's own counters (connStats) say what it did with the attempts.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchTable } from './harness.js';
import { loadNativeAddon } from '../agent/util/native-addon.js';

const ATTEMPTS = 20_000;
const ROUNDS = 5;

type Stats = { reported: number; suppressed: number; loopback: number };
interface Handle { start(cb: (b: Buffer) => void): void; close(): void; connStats(): Stats }
interface Addon { openEbpf(o: { object: string; ringBytes: number; connections?: { loopback: boolean; windowMs: number } }): Handle }

const STORM = `
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
t = time.perf_counter()
for _ in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except OSError:
        pass
    s.close()
print((time.perf_counter() - t) * 1000)
`;

/** A port nothing listens on (bound once by the OS, then closed). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => { resolve(port); });
    });
  });
}

/** The storm's own wall time in ms (python's perf_counter around the loop). */
function storm(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('nice', ['-n', '0', 'python3', '-c', STORM, host, String(port), String(ATTEMPTS)], { timeout: 300_000 }, (err, out) => {
      if (err) reject(new Error(err.message));
      else resolve(Number(out.trim()));
    });
  });
}

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

/** Run time and count of the BPF programs this process holds, by name (fdinfo with kernel.bpf_stats_enabled). */
function progStats(): Map<string, { ns: number; runs: number }> {
  const byId = new Map<string, { ns: number; runs: number }>();
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let text: string;
    try { text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { continue; }
    const id = /^prog_id:\s*(\d+)$/m.exec(text)?.[1];
    const ns = /^run_time_ns:\s*(\d+)$/m.exec(text)?.[1];
    const runs = /^run_cnt:\s*(\d+)$/m.exec(text)?.[1];
    if (id !== undefined && ns !== undefined && runs !== undefined) byId.set(id, { ns: Number(ns), runs: Number(runs) });
  }
  const out = new Map<string, { ns: number; runs: number }>();
  for (const [id, v] of byId) {
    const name = (JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', id, '--json'], { encoding: 'utf8' })) as { name?: string }).name ?? id;
    out.set(name, v);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** A non-loopback address of this host, else undefined (then the recorded path uses loopback with the filter off). */
function ownAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return undefined;
}

export default async function bench(): Promise<BenchTable[]> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return [];
  const addon = loadNativeAddon(fileURLToPath(new URL('../native/realtime.node', import.meta.url))) as Partial<Addon> | undefined;
  if (addon?.openEbpf === undefined) return [];
  const object = fileURLToPath(new URL('../native/portwarden.bpf.o', import.meta.url));
  const own = ownAddress();
  const loPort = await freePort('127.0.0.1');
  const ownPort = own === undefined ? loPort : await freePort(own);
  const peer = own ?? '127.0.0.1';
  const cases: { name: string; host: string; port: number; conn?: { loopback: boolean; windowMs: number } }[] = [
    { name: 'reference: no BPF program', host: '127.0.0.1', port: loPort },
    { name: 'other real-time programs only (events.connections: off)', host: '127.0.0.1', port: loPort },
    { name: 'connection program, peer on loopback (default: skipped, counted)', host: '127.0.0.1', port: loPort, conn: { loopback: false, windowMs: 60_000 } },
    { name: `connection program, one peer (${own === undefined ? 'loopback, filter off' : 'a host address'}), 60 s window (default): folded`, host: peer, port: ownPort, conn: { loopback: true, windowMs: 60_000 } },
    { name: 'connection program, window 0: every attempt recorded (ring buffer drained, dropped)', host: peer, port: ownPort, conn: { loopback: true, windowMs: 0 } },
  ];
  const times = cases.map(() => [] as number[]);
  const stats: Stats[] = cases.map(() => ({ reported: 0, suppressed: 0, loopback: 0 }));
  const runtime = cases.map(() => new Map<string, { ns: number; runs: number }>());
  // The kernel's per-program run time (a global switch, restored afterwards; it costs two clock reads a run).
  let statsWas: string | undefined;
  try { statsWas = readFileSync(STATS_SYSCTL, 'utf8').trim(); writeFileSync(STATS_SYSCTL, '1'); } catch { statsWas = undefined; }
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        const h = i === 0 ? undefined : addon.openEbpf({ object, ringBytes: 1 << 22, ...(c.conn === undefined ? {} : { connections: c.conn }) });
        h?.start(() => undefined);
        try {
          times[i]?.push(await storm(c.host, c.port));
          if (h !== undefined && round === ROUNDS - 1) {
            stats[i] = h.connStats();
            if (statsWas !== undefined) runtime[i] = progStats();
          }
        } finally {
          h?.close();
        }
      }
    }
  } finally {
    if (statsWas !== undefined) writeFileSync(STATS_SYSCTL, statsWas);
  }
  const perRun = (i: number, name: string) => {
    const r = runtime[i]?.get(name);
    return r === undefined || r.runs === 0 ? '-' : `${(r.ns / r.runs).toFixed(0)} ns x ${r.runs.toLocaleString('en-US')}`;
  };
  const ref = median(times[0] ?? []);
  const programTable: BenchTable = {
    title: `BPF program run time in that storm (kernel.bpf_stats_enabled, last round): mean ns per run x runs`,
    columns: ['case', 'pw_sock_btf (listeners, every state change)', 'pw_conn_btf (connections)'],
    rows: cases.slice(1).map((c, j) => [c.name, perRun(j + 1, 'pw_sock_btf'), perRun(j + 1, 'pw_conn_btf')]),
    notes: [
      'What the kernel measured around each program run (bpf_prog_run with stats on): the programs\' own CPU cost, unaffected by what else the machine runs. pw_conn_btf returns at once for any state change but CLOSE -> SYN_SENT; each attempt here also goes SYN_SENT -> CLOSE (the RST).',
      statsWas === undefined ? 'kernel.bpf_stats_enabled could not be set: no figures.' : 'The sysctl is switched on for the measurement and restored afterwards.',
    ],
  };
  return [programTable, {
    title: `connect() storm: ${ATTEMPTS.toLocaleString('en-US')} refused TCP attempts from one process, median of ${ROUNDS} interleaved rounds`,
    columns: ['case', 'storm wall (ms)', 'vs no program', 'added per attempt (µs)', 'attempts/s', 'kernel: recorded', 'kernel: folded', 'kernel: loopback skipped'],
    rows: cases.map((c, i) => {
      const ms = median(times[i] ?? []);
      const s = stats[i] ?? { reported: 0, suppressed: 0, loopback: 0 };
      return [c.name, ms, (ms / ref).toFixed(3), i === 0 ? '-' : (((ms - ref) / ATTEMPTS) * 1000).toFixed(2), Math.round((ATTEMPTS / ms) * 1000), c.conn === undefined ? '-' : s.reported, c.conn === undefined ? '-' : s.suppressed, c.conn === undefined ? '-' : s.loopback];
    }),
    notes: [
      'The connection program runs in the connecting task at CLOSE -> SYN_SENT (inet_sock_set_state), beside the listener program on the same tracepoint. Kernel counters are those of the last round (one attempt reaches the ring per window and peer; the rest are folded and counted).',
      'Wall time includes whatever else the machine runs: compare rows of one run only (load average printed by `uptime` beside the figures in the docs).',
      'A refused attempt is the cheapest connect() there is, so the ratio is an upper bound of the relative cost: a real connection (handshake, data) dilutes the same absolute cost.',
    ],
  }];
}
