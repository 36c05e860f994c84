#!/usr/bin/env node
// Manual check of dist/native/realtime.node on a live kernel (root; timing-dependent, so not a test).
//   node test/manual/realtime-ebpf-demo.mjs events     TCP listener, UDP bind, `sh -c id`: their records
//   node test/manual/realtime-ebpf-demo.mjs overflow   4 KB ring, blocked loop, exec storm: PW_LOST
//   node test/manual/realtime-ebpf-demo.mjs bench      2,000 /bin/true with and without the handle
//   node test/manual/realtime-ebpf-demo.mjs unpriv     what openEbpf throws (run it as an unprivileged user)
// Add `tracepoint` as a second argument to use the classic tracepoints instead of tp_btf.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rt = createRequire(import.meta.url)(join(root, 'dist', 'native', 'realtime.node'));
const object = join(root, 'dist', 'native', 'portwarden.bpf.o');
const prefer = process.argv[3] === 'tracepoint' ? 'tracepoint' : 'tp_btf';
const TYPES = ['?', 'FORK', 'EXEC', 'EXIT', 'LISTEN', 'UNLISTEN', 'BIND', 'DESTROY', 'LOST'];

// A tiny records.h decoder.
function decode(buf, out) {
  for (let off = 0; off + 88 <= buf.length;) {
    if (buf.readUInt16LE(off) !== 0x5057) throw new Error(`bad magic at ${off}`);
    const size = buf.readUInt16LE(off + 4);
    const r = {
      type: TYPES[buf.readUInt16LE(off + 2)] ?? 'UNKNOWN', size, flags: buf.readUInt16LE(off + 6),
      tgid: buf.readUInt32LE(off + 8), tid: buf.readUInt32LE(off + 12), ppid: buf.readUInt32LE(off + 16),
      uid: buf.readUInt32LE(off + 20), euid: buf.readUInt32LE(off + 24), gid: buf.readUInt32LE(off + 28),
      netns: buf.readUInt32LE(off + 32), start_ns: buf.readBigUInt64LE(off + 40),
      parent_start_ns: buf.readBigUInt64LE(off + 48), ts_ns: buf.readBigUInt64LE(off + 56),
      cgroup_id: buf.readBigUInt64LE(off + 64), comm: buf.toString('latin1', off + 72, off + 88).replace(/\0+$/, ''),
    };
    const p = off + 88;
    if (r.type === 'EXEC') {
      const fl = buf.readUInt16LE(p), al = buf.readUInt16LE(p + 2);
      r.filename = buf.toString('utf8', p + 16, p + 16 + fl);
      r.argv = buf.toString('utf8', p + 16 + fl, p + 16 + fl + al).split('\0').slice(0, -1);
    } else if (r.type === 'EXIT') {
      r.exit_code = buf.readInt32LE(p);
    } else if (['LISTEN', 'UNLISTEN', 'BIND', 'DESTROY'].includes(r.type)) {
      r.protocol = buf[p]; r.family = buf[p + 1]; r.port = buf.readUInt16LE(p + 2);
      r.ifindex = buf.readUInt32LE(p + 4); r.inode = buf.readBigUInt64LE(p + 8);
      r.addr = r.family === 2 ? [...buf.subarray(p + 24, p + 28)].join('.') : buf.subarray(p + 24, p + 40).toString('hex');
    } else if (r.type === 'LOST') {
      r.count = buf.readBigUInt64LE(p);
    }
    out.push(r);
    off += size;
  }
}

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.on('close', (code) => resolve({ pid: child.pid, code, text: text.trim() }));
  });
}
const PY = process.env.PYTHON ?? '/usr/bin/python3';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (r) => {
  const { size, flags, tid, uid, euid, gid, netns, start_ns, parent_start_ns, ts_ns, cgroup_id, ...rest } = r;
  return JSON.stringify({ ...rest, inode: rest.inode === undefined ? undefined : String(rest.inode), count: rest.count === undefined ? undefined : String(rest.count), size, flags, uid, netns, start_ns: String(start_ns), parent_start_ns: String(parent_start_ns), cgroup_id: String(cgroup_id) });
};

const mode = process.argv[2] ?? 'events';
if (mode === 'unpriv') {
  console.log('probe', rt.probe(), 'uid', process.getuid());
  try {
    rt.openEbpf({ object, ringBytes: 65536, prefer });
    console.log('openEbpf succeeded');
  } catch (e) {
    console.log(`openEbpf threw: code=${e.code} syscall=${e.syscall}\n  message: ${e.message}`);
  }
} else if (mode === 'events') {
  const records = [];
  const h = rt.openEbpf({ object, ringBytes: 1 << 20, prefer });
  console.log('describe', h.describe());
  let deliveries = 0;
  h.start((buf) => { deliveries++; decode(buf, records); });
  const tcp = await run(PY, ['-c', 'import socket,os,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); '
    + 'print(os.getpid(), s.getsockname()[1], os.fstat(s.fileno()).st_ino, flush=True); time.sleep(0.02); s.close()']);
  const udp = await run(PY, ['-c', 'import socket,os,time; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::",0)); '
    + 'print(os.getpid(), s.getsockname()[1], os.fstat(s.fileno()).st_ino, flush=True); time.sleep(0.02); s.close()']);
  const id = await run('sh', ['-c', 'id; echo $$']);
  await sleep(100);
  console.log(`python TCP says: pid port inode = ${tcp.text}`);
  console.log(`python UDP says: pid port inode = ${udp.text}`);
  console.log(`sh -c id: pid ${id.pid}, output: ${id.text.replace(/\n/g, ' / ')}; node pid ${process.pid}`);
  const pids = new Set([tcp.pid, udp.pid, id.pid]);
  for (const r of records) if (pids.has(r.ppid) && r.type === 'FORK') pids.add(r.tgid); // sh's child `id`
  for (const r of records) if (pids.has(r.tgid)) console.log(show(r));
  console.log(`${records.length} records in ${deliveries} deliveries, lost() = ${h.lost()}`);
  h.close();
  h.close();
} else if (mode === 'overflow') {
  const records = [];
  const h = rt.openEbpf({ object, ringBytes: 4096, prefer });
  h.start((buf) => decode(buf, records));
  const done = run('sh', ['-c', 'i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done']);
  const until = Date.now() + 1000;
  while (Date.now() < until); // the event loop is blocked: nobody consumes the 4 KB ring
  const sh = await done;
  await sleep(100);
  const lost = records.filter((r) => r.type === 'LOST');
  console.log(`records ${records.length}; first record type ${records[0]?.type}; PW_LOST records:`, lost.map((r) => `count=${r.count}`).join(', '));
  console.log(`lost() = ${h.lost()}; /bin/true execs delivered: ${records.filter((r) => r.type === 'EXEC' && r.ppid === sh.pid).length} of 500 (of ${sh.pid})`);
  h.close();
} else if (mode === 'bench') {
  // `times`: the shell's and its children's user and system CPU, less sensitive than wall time to the
  // machine's other load.
  const loop = ['-c', 'i=0; while [ $i -lt 2000 ]; do /bin/true; i=$((i+1)); done; times'];
  const cpu = [[], []];
  const secs = (t) => { const m = /^(\d+)m([\d.]+)s$/.exec(t); return m ? Number(m[1]) * 60 + Number(m[2]) : NaN; };
  const shells = new Set();
  const timeIt = async (which) => {
    const t = process.hrtime.bigint();
    const r = await run('sh', loop);
    const wall = Number(process.hrtime.bigint() - t) / 1e6;
    shells.add(r.pid);
    const total = r.text.split(/\s+/).map(secs).reduce((a, b) => a + b, 0);
    if (which !== undefined) cpu[which].push(total * 1000);
    return wall;
  };
  const without = [], withh = [];
  let execs = [], n = 0;
  await timeIt(); // warm-up
  for (let i = 0; i < 7; i++) { // alternating order: the machine's background load drifts
    if (i % 2 === 0) without.push(await timeIt(0));
    const h = rt.openEbpf({ object, ringBytes: 1 << 22, prefer });
    h.start((buf) => { const rs = []; decode(buf, rs); n += rs.length; execs.push(...rs.filter((r) => r.type === 'EXEC' && r.filename === '/bin/true')); });
    withh.push(await timeIt(1));
    await sleep(50);
    if (h.lost() !== 0) console.log('lost', h.lost());
    h.close();
    if (i % 2 === 1) without.push(await timeIt(0));
  }
  execs = execs.filter((r) => shells.has(r.ppid));
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(`without: ${without.map((x) => x.toFixed(0)).join(' ')} ms, median ${med(without).toFixed(0)}`);
  console.log(`with:    ${withh.map((x) => x.toFixed(0)).join(' ')} ms, median ${med(withh).toFixed(0)}`);
  console.log(`CPU (sh + children, user+sys) without: ${cpu[0].map((x) => x.toFixed(0)).join(' ')} ms, median ${med(cpu[0]).toFixed(0)}`);
  console.log(`CPU (sh + children, user+sys) with:    ${cpu[1].map((x) => x.toFixed(0)).join(' ')} ms, median ${med(cpu[1]).toFixed(0)}; ratio ${(med(cpu[1]) / med(cpu[0])).toFixed(3)}`);
  console.log(`wall ratio ${(med(withh) / med(without)).toFixed(3)}; ${n} records consumed; /bin/true EXEC records: ${execs.length}, sizes ${[...new Set(execs.map((r) => r.size))].join(',')} bytes`);
}
