/**
 * The connection program of realtime.node against the real kernel, on both attach paths: tp_btf
 * (addresses read from the socket) and the classic tracepoint (read from the tracepoint's own
 * fields), as records.ts parses them. The agent runs tp_btf where it can, so the classic path is
 * exercised here.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { silentLogger } from '../../../agent/log/logger.js';
import { LinuxSource } from '../../../agent/sources/linux/source.js';
import { parseRecords } from '../../../agent/sources/linux/realtime/records.js';
import type { RawRecord } from '../../../agent/sources/linux/realtime/records.js';
import { loadNativeAddon } from '../../../agent/util/native-addon.js';
import { fixture, repoRoot } from '../../../testkit/paths.js';
import { waitFor } from '../../helpers/wait.js';

interface Handle { start(cb: (b: Buffer) => void): void; close(): void; describe(): { attach: string; programs: string[] }; connStats(): { reported: number; suppressed: number; loopback: number } }
interface Addon { openEbpf(o: { object: string; ringBytes: number; prefer?: string; flushMs?: number; connections?: { loopback: boolean; windowMs: number } }): Handle }

const native = join(repoRoot, 'dist', 'native');
const addon = process.platform === 'linux' ? loadNativeAddon(join(native, 'realtime.node')) as Partial<Addon> | undefined : undefined;
const skip = process.getuid?.() !== 0 ? 'needs root (eBPF)' : addon?.openEbpf === undefined ? 'realtime.node not built' : false;

function listen(t: TestContext, host: string): Promise<number> {
  return new Promise((resolve) => {
    const srv: Server = createServer((s) => { s.destroy(); }).listen(0, host, () => { resolve((srv.address() as AddressInfo).port); });
    t.after(() => { srv.close(); });
  });
}

function connectPy(specs: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('python3', [fixture('scripts', 'connect.py'), ...specs], { timeout: 30_000 }, (err, out) => {
      if (err) reject(new Error(err.message));
      else resolve((JSON.parse(out.trim()) as { pid: number }).pid);
    });
  });
}

for (const prefer of ['tp_btf', 'tracepoint'] as const) {
  test(`${prefer}: a client's IPv4 and IPv6 attempts arrive with its pid, name and peers; off, no program is loaded`, { skip }, async (t) => {
    const open = addon?.openEbpf;
    assert.ok(open !== undefined);
    const object = join(native, 'portwarden.bpf.o');
    const bare = open({ object, ringBytes: 1 << 20, prefer });
    const programs = bare.describe().programs;
    bare.close();
    assert.deepEqual(programs.filter((p) => p.startsWith('pw_conn')), [], 'without connections: no connection program');

    const h = open({ object, ringBytes: 1 << 20, prefer, flushMs: 0, connections: { loopback: true, windowMs: 0 } });
    t.after(() => { h.close(); });
    assert.equal(h.describe().attach, prefer);
    assert.ok(h.describe().programs.includes(prefer === 'tp_btf' ? 'pw_conn_btf' : 'pw_conn_tp'));
    const records: RawRecord[] = [];
    h.start((b) => { records.push(...parseRecords(b).records); });
    const v4 = await listen(t, '127.0.0.1');
    const v6 = await listen(t, '::1');
    // The last one: an IPv6 socket to a v4-mapped peer (tcp_v6_connect hands it to tcp_v4_connect).
    const pid = await connectPy([`127.0.0.1:${v4}`, `[::1]:${v6}`, `[::1]:${v6}`, `[::ffff:127.0.0.1]:${v4}`]);
    const mine = await waitFor('the client\'s four attempts', () => {
      const r = records.filter((x) => x.type === 'connect' && x.proc.tgid === pid);
      return r.length >= 4 ? r : undefined;
    }, 10_000);
    const conns = mine.flatMap((r) => (r.type === 'connect' ? [r] : []));
    assert.equal(conns.length, 4, 'window 0: every attempt');
    const [a, b, , m] = conns;
    assert.ok(a !== undefined && b !== undefined && m !== undefined);
    assert.deepEqual([m.conn.family, m.conn.destinationAddress, m.conn.destinationPort], ['ipv4', '127.0.0.1', v4], 'a v4-mapped peer is the IPv4 address');
    assert.equal(a.proc.comm.startsWith('python3'), true);
    assert.deepEqual([a.conn.family, a.conn.destinationAddress, a.conn.destinationPort, a.conn.sourceAddress], ['ipv4', '127.0.0.1', v4, '127.0.0.1']);
    assert.deepEqual([b.conn.family, b.conn.destinationAddress, b.conn.destinationPort, b.conn.sourceAddress], ['ipv6', '::1', v6, '::1']);
    assert.ok(h.connStats().reported >= 3);
  });
}

for (const prefer of ['tp_btf', 'tracepoint'] as const) {
  test(`${prefer}: loopback peers are skipped in the kernel and counted, also an IPv6 socket's v4-mapped 127/8 and the unspecified address`, { skip }, async (t) => {
    const open = addon?.openEbpf;
    assert.ok(open !== undefined);
    const h = open({ object: join(native, 'portwarden.bpf.o'), ringBytes: 1 << 20, prefer, flushMs: 0, connections: { loopback: false, windowMs: 0 } });
    t.after(() => { h.close(); });
    const records: RawRecord[] = [];
    h.start((b) => { records.push(...parseRecords(b).records); });
    const v4 = await listen(t, '127.0.0.1');
    const v6 = await listen(t, '::1');
    const before = h.connStats().loopback;
    // 127.0.0.2 is loopback too (127/8); [::] and 0.0.0.0 reach the host itself.
    const pid = await connectPy([`127.0.0.2:${v4}`, `[::1]:${v6}`, `[::ffff:127.0.0.1]:${v4}`, `[::]:${v6}`, `0.0.0.0:${v4}`]);
    await waitFor('five loopback attempts counted', () => h.connStats().loopback - before >= 5, 10_000);
    // A later process's exec comes after those attempts in the one ring buffer: once it is read, so is all before it.
    const later = await connectPy([]);
    await waitFor('a later exec read', () => records.some((x) => x.type === 'exec' && x.proc.tgid === later), 10_000);
    assert.deepEqual(records.filter((x) => x.type === 'connect' && x.proc.tgid === pid), [], 'none recorded');
  });
}

test('a connection program that cannot be loaded leaves the rest of eBPF running: listeners in real time, connections named in blind', { skip }, async (t) => {
  // Any failure of the open with the connection program takes this path; here the addon refuses the
  // option (a window that is not a whole number of ms), as a kernel's verifier refusing the program would.
  const source = new LinuxSource({ logger: silentLogger, realtime: { mode: 'ebpf', ringBytes: 1 << 20, nativeDir: native, connections: { loopback: false, windowMs: 0.5 } } });
  await source.start();
  t.after(() => source.shutdown());
  const st = source.realtime()?.status();
  assert.ok(st !== undefined);
  assert.equal(st.mode, 'ebpf', `eBPF still runs: ${st.reasons.join('; ')}`);
  assert.equal(st.listenersRealtime, true);
  assert.equal(st.connections, false);
  assert.ok(st.blind.some((b) => b.startsWith('outbound connections are not seen: the connection program could not be loaded (')), st.blind.join('; '));
});
