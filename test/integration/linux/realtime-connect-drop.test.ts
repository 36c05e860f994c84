/**
 * The connection program's dedupe window against a full ring buffer, on the real kernel: an attempt
 * whose record found no room (dropped, counted as lost) must not open the window for its peer, or
 * the process's next attempts to that peer within the window would be folded into a record nobody
 * received. The ring buffer is the smallest the addon takes beside the page (ringBytes, the same
 * knob as `source.ring_buffer`) and is not drained until the test says so: the client's attempts
 * to many other peers fill it (if the host's own activity has not already) before the one that matters.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseRecords } from '../../../agent/sources/linux/realtime/records.js';
import type { RawRecord } from '../../../agent/sources/linux/realtime/records.js';
import { loadNativeAddon } from '../../../agent/util/native-addon.js';
import { repoRoot } from '../../../testkit/paths.js';
import { waitFor } from '../../helpers/wait.js';

interface Handle { start(cb: (b: Buffer) => void): void; close(): void; lost(): number }
interface Addon { openEbpf(o: { object: string; ringBytes: number; prefer?: string; flushMs?: number; connections?: { loopback: boolean; windowMs: number } }): Handle }

const native = join(repoRoot, 'dist', 'native');
const addon = process.platform === 'linux' ? loadNativeAddon(join(native, 'realtime.node')) as Partial<Addon> | undefined : undefined;
const skip = process.getuid?.() !== 0 ? 'needs root (eBPF)' : addon?.openEbpf === undefined ? 'realtime.node not built' : false;

/** 300 connection records (144 bytes each in the ring) are more than 16 KiB can hold. */
const RING = 16 * 1024;
const FILLERS = 300;

/**
 * Connects to FILLERS other loopback peers (127.0.1.1, 127.0.1.2, ..., refused at once), then to
 * the peer, says "ready" and waits for a line on stdin; then connects to the peer again and exits.
 */
const CLIENT = `
import socket, sys
port = int(sys.argv[1]); n = int(sys.argv[2])
def attempt(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((host, port))
    except OSError:
        pass
    s.close()
for i in range(n):
    attempt("127.0.%d.%d" % (1 + i // 250, 1 + i % 250))
attempt("127.0.0.1")
print("ready", flush=True)
sys.stdin.readline()
attempt("127.0.0.1")
`;

function listen(t: TestContext): Promise<number> {
  return new Promise((resolve) => {
    const srv: Server = createServer((s) => { s.destroy(); }).listen(0, '127.0.0.1', () => { resolve((srv.address() as AddressInfo).port); });
    t.after(() => { srv.close(); });
  });
}

function trueProcess(): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = execFile('true', (err) => { if (err) reject(new Error(err.message)); else resolve(c.pid ?? 0); });
  });
}

for (const prefer of ['tp_btf', 'tracepoint'] as const) {
  test(`${prefer}: an attempt dropped by a full ring buffer leaves its peer unreported, so the next attempt in the window is recorded`, { skip }, async (t) => {
    const open = addon?.openEbpf;
    assert.ok(open !== undefined);
    // A 60 s window: without a drop, the second attempt to the peer would be folded.
    const h = open({ object: join(native, 'portwarden.bpf.o'), ringBytes: RING, prefer, flushMs: 0, connections: { loopback: true, windowMs: 60_000 } });
    t.after(() => { h.close(); });
    const port = await listen(t);
    const client = spawn('python3', ['-c', CLIENT, String(port), String(FILLERS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => { client.kill(); });
    const lines = createInterface({ input: client.stdout });
    const [ready] = await once(lines, 'line') as [string];
    assert.equal(ready, 'ready');
    const pid = client.pid ?? 0;
    assert.ok(h.lost() > 0, 'the ring buffer overflowed (nothing drained it yet)');

    const records: RawRecord[] = [];
    h.start((b) => { records.push(...parseRecords(b).records); });
    const toPeer = () => records.filter((x) => x.type === 'connect' && x.proc.tgid === pid && x.conn.destinationAddress === '127.0.0.1' && x.conn.destinationPort === port);
    // The first drain delivers all the ring held in one Buffer, its PW_LOST record first. (What the
    // ring holds may be the host's own execs more than the client's fillers: either way it was full.)
    await waitFor('the full ring drained', () => records.some((x) => x.type === 'lost') || undefined, 10_000);
    assert.deepEqual(toPeer(), [], 'the first attempt to the peer found no room (the fillers came first)');

    client.stdin.end('go\n');
    await once(client, 'exit');
    // A later process's exec comes after the second attempt in the one ring buffer: once it is read, so is that attempt.
    const later = await trueProcess();
    await waitFor('a later exec read', () => records.some((x) => x.type === 'exec' && x.proc.tgid === later) || undefined, 10_000);
    const second = toPeer();
    assert.equal(second.length, 1, 'the attempt after the drop is recorded, not folded into the dropped one');
  });
}
