// The native NETLINK_SOCK_DIAG dump against `ss -ltnuHe` as the oracle, in this network namespace
// and in a fresh one the test creates (root only), with real listeners of every shape.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ListenerReader } from '../../../agent/sources/linux/listener-reader.js';
import { parseSsLine } from '../../../agent/sources/linux/proc-parsers.js';
import type { SocketRow } from '../../../agent/sources/linux/proc-parsers.js';
import { classifyError, decodeRows, loadSockDiag } from '../../../agent/sources/linux/sock-diag.js';
import type { DumpResult } from '../../../agent/sources/linux/sock-diag.js';
import { loadNativeAddon } from '../../../agent/util/native-addon.js';
import { repoRoot } from '../../../testkit/paths.js';

const linux = process.platform === 'linux';
const root = process.getuid?.() === 0;
const diag = loadSockDiag();
const addonFile = join(repoRoot, 'dist', 'native', 'sock_diag.node');

type Row = SocketRow & { zone?: string };
const key = (r: Row): string => `${r.transport} ${r.family} ${r.address}%${r.zone ?? ''} ${r.port} ino:${r.inode} uid:${r.uid ?? 0}`;
const short = (r: Row): string => `${r.transport} ${r.address}${r.zone === undefined ? '' : `%${r.zone}`} ${r.port}`;

function run(cmd: string, args: string[], opts: { uid?: number; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

async function ssKeys(prefix: string[]): Promise<Set<string>> {
  const argv = [...prefix, 'ss', '-ltnuHe'];
  const out = await run(argv[0] ?? 'ss', argv.slice(1));
  const rows = out.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const r = parseSsLine(l);
    assert.ok(r !== undefined, `unparsed ss line: ${l}`);
    return r;
  });
  return new Set(rows.map(key));
}

function okRows(r: DumpResult): Row[] {
  if (r.kind !== 'ok') assert.fail(`native dump: ${r.kind} ${r.code}: ${r.message}`);
  return r.rows;
}

/** Others open and close listeners meanwhile: native must hold what ss saw both times, and nothing ss never saw. */
async function compareWithSs(dump: () => DumpResult, ssPrefix: string[]): Promise<Row[]> {
  const before = await ssKeys(ssPrefix);
  const rows = okRows(dump());
  const after = await ssKeys(ssPrefix);
  const native = new Set(rows.map(key));
  assert.equal(native.size, rows.length, 'each socket once');
  assert.deepEqual([...before].filter((k) => after.has(k) && !native.has(k)), [], 'sockets ss listed before and after, missing from the native dump');
  assert.deepEqual([...native].filter((k) => !before.has(k) && !after.has(k)), [], 'sockets in the native dump that ss never listed');
  return rows;
}

function assertHas(rows: Row[], expected: string[]): void {
  const seen = new Set(rows.map(short));
  assert.deepEqual(expected.filter((e) => !seen.has(e)), [], 'our own listeners are in the dump with ss\'s address text');
}

test('the addon was built (npm run build compiles it when a C compiler is present)', { skip: !linux }, () => {
  assert.ok(diag !== undefined, 'dist/native/sock_diag.node missing or unloadable: run node scripts/build-native.mjs');
});

test('this namespace: the native dump equals ss -ltnuHe, for TCP/UDP, IPv4/IPv6, loopback/any, v6only/dual-stack', { skip: diag === undefined }, async (t) => {
  const servers: net.Server[] = [];
  const sockets: dgram.Socket[] = [];
  t.after(() => {
    for (const s of servers) s.close();
    for (const s of sockets) s.close();
  });
  const listen = async (host: string, ipv6Only: boolean): Promise<number> => {
    const s = net.createServer();
    servers.push(s);
    s.listen({ host, port: 0, ipv6Only });
    await once(s, 'listening');
    return (s.address() as net.AddressInfo).port;
  };
  const bind = async (type: 'udp4' | 'udp6', address: string, ipv6Only: boolean): Promise<number> => {
    const s = dgram.createSocket({ type, ipv6Only });
    sockets.push(s);
    s.bind({ address, port: 0 });
    await once(s, 'listening');
    return s.address().port;
  };
  const expected = [
    `tcp 0.0.0.0 ${await listen('0.0.0.0', false)}`,
    `tcp 127.0.0.1 ${await listen('127.0.0.1', false)}`,
    `tcp :: ${await listen('::', false)}`,
    `tcp :: ${await listen('::', true)}`,
    `tcp ::1 ${await listen('::1', false)}`,
    `udp 127.0.0.1 ${await bind('udp4', '127.0.0.1', false)}`,
    `udp :: ${await bind('udp6', '::', false)}`,
    `udp ::1 ${await bind('udp6', '::1', true)}`,
  ];
  const rows = await compareWithSs(() => diag!.dump(), []);
  assertHas(rows, expected);
});

const PY_LISTENERS = String.raw`
import json, os, resource, socket, sys
iface, many = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, many + 256), hard))
keep = []
def sock(fam, kind, addr, v6only=None, dev=None, listen=True):
    s = socket.socket(fam, kind)
    keep.append(s)
    if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind(addr)
    if listen and kind == socket.SOCK_STREAM: s.listen()
    return s.getsockname()[1]
A4, A6, T, U = socket.AF_INET, socket.AF_INET6, socket.SOCK_STREAM, socket.SOCK_DGRAM
p = {
  'tcp 0.0.0.0': sock(A4, T, ('0.0.0.0', 0)), 'tcp 127.0.0.1': sock(A4, T, ('127.0.0.1', 0)),
  'tcp ::': sock(A6, T, ('::', 0), v6only=False), 'tcp ::/v6only': sock(A6, T, ('::', 0), v6only=True),
  'tcp ::1': sock(A6, T, ('::1', 0)), 'tcp fe80::1%' + iface: sock(A6, T, ('fe80::1', 0, 0, socket.if_nametoindex(iface))),
  'tcp ::%lo': sock(A6, T, ('::', 0), v6only=False, dev='lo'),
  'udp 0.0.0.0': sock(A4, U, ('0.0.0.0', 0)), 'udp ::1': sock(A6, U, ('::1', 0)),
  'udp ::ffff:127.0.0.1': sock(A6, U, ('::ffff:127.0.0.1', 0), v6only=False),
}
sock(A4, T, ('127.0.0.1', 0), listen=False)  # bound, never listening: not a listener
c = socket.create_connection(('127.0.0.1', p['tcp 127.0.0.1'])); keep.append(c); keep.append(keep[1].accept()[0])
u = socket.socket(A4, U); keep.append(u); u.connect(('127.0.0.1', p['udp 0.0.0.0']))  # connected UDP: not a listener
for _ in range(many): sock(A4, T, ('127.0.0.1', 0))
print(json.dumps({'pid': os.getpid(), 'ports': p}), flush=True)
sys.stdin.read()
`;

async function freshNamespace(t: TestContext): Promise<{ name: string; iface: string }> {
  const name = `pw-sockdiag-${process.pid}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  t.after(() => run('ip', ['netns', 'del', name]).then(() => undefined));
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  let iface = 'lo';
  try {
    // A veth pair gets ifindexes the host uses for other devices: names must come from the namespace.
    await run('ip', ['-n', name, 'link', 'add', 'pwv0', 'type', 'veth', 'peer', 'name', 'pwv1']);
    await run('ip', ['-n', name, 'link', 'set', 'pwv0', 'up']);
    await run('ip', ['-n', name, 'link', 'set', 'pwv1', 'up']);
    iface = 'pwv0';
  } catch {
    // no veth in this kernel: the link-local address goes on lo
  }
  await run('ip', ['-n', name, '-6', 'addr', 'add', 'fe80::1/64', 'dev', iface, 'nodad']);
  return { name, iface };
}

test('an unchanged dump hands back the previous Buffer; a new listener gives new bytes', { skip: diag === undefined }, async (t) => {
  const addon = loadNativeAddon(addonFile) as unknown as { dump(ns?: string, previous?: Uint8Array): { rows: Uint8Array } } | undefined;
  assert.ok(addon !== undefined);
  // Other tests open and close sockets meanwhile: retry until two dumps in a row are equal.
  let first = addon.dump().rows;
  let second = addon.dump(undefined, first).rows;
  for (let i = 0; i < 50 && second !== first; i++) {
    first = second;
    second = addon.dump(undefined, first).rows;
  }
  assert.equal(second, first, 'the same sockets: the very Buffer passed in comes back');
  const server = net.createServer();
  t.after(() => server.close());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const third = addon.dump(undefined, second).rows;
  assert.notEqual(third, second);
  assert.ok(decodeRows({ rows: third, ifnames: {} }).some((r) => r.port === port && r.address === '127.0.0.1'));
  assert.ok(!decodeRows({ rows: second, ifnames: {} }).some((r) => r.port === port && r.address === '127.0.0.1'));
  // Anything but a Uint8Array as `previous` is ignored, even with the same bytes.
  assert.equal(addon.dump(undefined, 'x' as unknown as Uint8Array).rows.length > 0, true);
  const sameBytes = new Int8Array(third.buffer, third.byteOffset, third.byteLength);
  const fourth = addon.dump(undefined, sameBytes as unknown as Uint8Array).rows;
  assert.notEqual(fourth, sameBytes);
  // An empty Uint8Array is a previous dump of no sockets: here there are some, so new bytes come back.
  assert.ok(addon.dump(undefined, new Uint8Array(0)).rows.length > 0);
});

test('another namespace: entered with setns, equal to ss there, names interfaces from that namespace; unprivileged is refused', { skip: diag === undefined || !root }, async (t) => {
  const { name, iface } = await freshNamespace(t);
  const many = 1500; // far more than one netlink message holds
  const child = spawn('ip', ['netns', 'exec', name, 'python3', '-c', PY_LISTENERS, iface, String(many)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { child.kill('SIGKILL'); });
  const [line] = await once(createInterface({ input: child.stdout }), 'line', { signal: AbortSignal.timeout(60_000) }) as [string];
  const info = JSON.parse(line) as { pid: number; ports: Record<string, number> };
  const nsPath = `/proc/${info.pid}/ns/net`;

  const rows = await compareWithSs(() => diag!.dump(nsPath), ['ip', 'netns', 'exec', name]);
  assertHas(rows, Object.entries(info.ports).map(([k, port]) => `${k.replace('/v6only', '')} ${port}`));
  assert.equal(rows.length, Object.keys(info.ports).length + many, 'exactly our listeners: no connected, accepted or bound-only sockets');

  // The thread is back in its own namespace, and no descriptor leaks, whether a dump works or fails.
  const ownNs = readlinkSync('/proc/thread-self/ns/net');
  const fds = readdirSync('/proc/self/fd').length;
  for (let i = 0; i < 20; i++) {
    okRows(diag!.dump(nsPath));
    assert.equal(diag!.dump('/proc/self/ns/mnt').kind, 'failed'); // setns refuses a non-net namespace: EINVAL
    assert.equal(diag!.dump(`/proc/${info.pid}/ns/nonexistent`).kind, 'gone');
  }
  assert.equal(readlinkSync('/proc/thread-self/ns/net'), ownNs);
  assert.equal(readdirSync('/proc/self/fd').length, fds);

  const reader = new ListenerReader('/proc');
  const viaReader = await reader.read(info.pid, false);
  assert.deepEqual(new Set(viaReader.rows.map(key)), new Set(rows.map(key)));
  assert.equal(reader.describe(), 'NETLINK_SOCK_DIAG (native)');

  // Without CAP_SYS_ADMIN the other namespace is refused (the reader then falls back), ours still works.
  const dir = mkdtempSync(join(tmpdir(), 'pw-sockdiag-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  chmodSync(dir, 0o755);
  copyFileSync(addonFile, join(dir, 'sock_diag.node'));
  const probe = `const m = require('./sock_diag.node'); const out = { own: m.dump().rows.length };
    try { m.dump(${JSON.stringify(nsPath)}); out.other = 'ok'; } catch (e) { out.other = { code: e.code, syscall: e.syscall, message: e.message }; }
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(await run(process.execPath, ['-e', probe], { uid: 65534, cwd: dir })) as { own: number; other: unknown };
  assert.ok(out.own > 0, 'an unprivileged dump of its own namespace works');
  assert.equal(classifyError(out.other).kind, 'not-permitted', JSON.stringify(out.other));
});
