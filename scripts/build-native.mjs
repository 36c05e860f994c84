#!/usr/bin/env node
// Compiles the native addons into dist/native/ with the system compilers against Node's own headers
// (no node-gyp):
//   native/sock_diag/{addon,dump,proc_walk,malloc,util}.c -> sock_diag.node (C)
//                                                   the Linux collector's netlink dump and /proc walks
//   native/heap_control.cc -> heap_control.node  (C++) V8 memory reduction when a start-up burst ends
//   native/realtime/{netlink_addon,proc_connector,sock_destroy}.c -> netlink_events.node (C)
//                                                   the real-time source's proc connector and socket destroy events
//   native/realtime/portwarden.bpf.c -> portwarden.bpf.o (clang -target bpf, CO-RE) and
//   native/realtime/{addon,delivery,ebpf}.c -> realtime.node (C, libbpf)  the real-time Linux source's eBPF producer
// Never fails the build: an addon that cannot be built is skipped with one warning, and the agent
// works without it (the Linux collector uses `ss`; V8's memory reducer frees the heap later; the
// real-time source falls back to the proc connector).
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'native');

const addons = [
  {
    name: 'sock_diag.node',
    sources: ['sock_diag/addon.c', 'sock_diag/dump.c', 'sock_diag/proc_walk.c', 'sock_diag/malloc.c', 'sock_diag/util.c'],
    compiler: process.env.CC || 'cc', flags: ['-std=gnu11'],
    without: 'the Linux collector will use ss -ltnuHe instead',
  },
  {
    name: 'heap_control.node', source: 'heap_control.cc', compiler: process.env.CXX || 'c++', flags: ['-std=c++17', '-fno-exceptions', '-fno-rtti'],
    without: 'after the first scan V8 frees memory on its own schedule (15-45 s later)',
  },
  {
    name: 'netlink_events.node',
    sources: ['realtime/netlink_addon.c', 'realtime/proc_connector.c', 'realtime/sock_destroy.c'],
    compiler: process.env.CC || 'cc', flags: ['-std=gnu11'],
    without: 'the real-time source has no proc connector or socket destroy events and the agent relies on polling',
  },
];

if (process.platform !== 'linux') process.exit(0);

// <prefix>/bin/node -> <prefix>/include/node; PORTWARDEN_NODE_HEADERS overrides (e.g. a headers tarball).
const candidates = [
  process.env.PORTWARDEN_NODE_HEADERS,
  join(dirname(dirname(process.execPath)), 'include', 'node'),
].filter((d) => d !== undefined && d !== '');
const headers = candidates.find((d) => existsSync(join(d, 'node_api.h')));
mkdirSync(outDir, { recursive: true });

for (const addon of addons) {
  const output = join(outDir, addon.name);
  const skip = (reason) => {
    // A stale addon from an earlier build would contradict the message.
    rmSync(output, { force: true });
    console.warn(`build-native: skipped ${addon.name} (${reason}); ${addon.without}`);
  };
  if (headers === undefined) {
    skip(`node_api.h not found in ${candidates.join(', ')}`);
    continue;
  }
  // Built beside the target and renamed over it, so a running agent never maps a half-written file.
  // Node's headers are system headers here: their own warnings are not ours.
  const temp = `${output}.${process.pid}.tmp`;
  const sources = (addon.sources ?? [addon.source]).map((s) => join(root, 'native', s));
  const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', ...addon.flags, `-isystem${headers}`, '-o', temp, ...sources];
  execFile(addon.compiler, args, { timeout: 120_000 }, (err, _stdout, stderr) => {
    if (err) {
      rmSync(temp, { force: true });
      const detail = err.code === 'ENOENT'
        ? `compiler '${addon.compiler}' not found`
        : `${addon.compiler} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || err.message.split('\n')[0]}`;
      skip(detail);
      return;
    }
    if (stderr.trim() !== '') process.stderr.write(stderr);
    renameSync(temp, output);
  });
}

// ---- real-time source: portwarden.bpf.o + realtime.node, built together (one is useless without the other) ----

const run = promisify(execFile);
const ok = (file, args) => run(file, args, { timeout: 60_000 }).then(() => true, () => false);
const out = (file, args) => run(file, args, { timeout: 60_000 }).then((r) => r.stdout.trim(), () => undefined);
const readable = (path) => { try { accessSync(path, constants.R_OK); return true; } catch { return false; } };
const firstLines = (err) => (err.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || err.message.split('\n')[0];
const bpfArch = { x64: 'x86', arm64: 'arm64', arm: 'arm', s390x: 's390', ppc64: 'powerpc', riscv64: 'riscv', loong64: 'loongarch' }[process.arch];

async function buildRealtime() {
  const bpfOut = join(outDir, 'portwarden.bpf.o');
  const nodeOut = join(outDir, 'realtime.node');
  const skip = (reason) => {
    rmSync(bpfOut, { force: true });
    rmSync(nodeOut, { force: true });
    console.warn(`build-native: skipped realtime.node and portwarden.bpf.o (${reason}); the real-time source falls back to the proc connector`);
  };
  const clang = process.env.BPF_CLANG || 'clang';
  const bpftool = process.env.BPFTOOL || 'bpftool';
  const cc = process.env.CC || 'cc';
  const btf = '/sys/kernel/btf/vmlinux';
  const libbpfIncludes = [await out('pkg-config', ['--variable=includedir', 'libbpf']), '/usr/include', '/usr/local/include']
    .filter((d) => d !== undefined && d !== '');
  const libbpfInclude = libbpfIncludes.find((d) => existsSync(join(d, 'bpf', 'bpf_helpers.h')) && existsSync(join(d, 'bpf', 'libbpf.h')));
  const missing = [];
  if (headers === undefined) missing.push('no node_api.h');
  if (bpfArch === undefined) missing.push(`no BPF target for ${process.arch}`);
  if (!(await ok(clang, ['--version']))) missing.push(`no clang ('${clang}')`);
  if (!(await ok(bpftool, ['version']))) missing.push(`no bpftool ('${bpftool}')`);
  if (libbpfInclude === undefined) missing.push('no libbpf headers (bpf/bpf_helpers.h; libbpf-dev)');
  if (!readable(btf)) missing.push(`no BTF (${btf} not readable)`);
  if (missing.length > 0) return skip(missing.join(', '));

  const src = join(root, 'native', 'realtime');
  const temp = mkdtempSync(join(tmpdir(), 'portwarden-bpf-'));
  const bpfTemp = `${bpfOut}.${process.pid}.tmp`;
  const nodeTemp = `${nodeOut}.${process.pid}.tmp`;
  try {
    // vmlinux.h of this kernel: only a build input, never kept (the object is CO-RE, it runs on other kernels).
    let vmlinux;
    try {
      vmlinux = (await run(bpftool, ['btf', 'dump', 'file', btf, 'format', 'c'], { timeout: 120_000, maxBuffer: 256 * 1024 * 1024 })).stdout;
    } catch (err) {
      return skip(`bpftool btf dump failed: ${firstLines(err)}`);
    }
    writeFileSync(join(temp, 'vmlinux.h'), vmlinux);
    try {
      const { stderr } = await run(clang, ['-g', '-O2', '-Wall', '-target', 'bpf', `-D__TARGET_ARCH_${bpfArch}`,
        `-I${temp}`, `-I${src}`, `-idirafter${libbpfInclude}`, '-c', join(src, 'portwarden.bpf.c'), '-o', bpfTemp], { timeout: 120_000 });
      if (stderr.trim() !== '') process.stderr.write(stderr);
    } catch (err) {
      return skip(`clang -target bpf failed: ${firstLines(err)}`);
    }

    // libbpf linked statically when its archive allows it (hosts then need no libbpf1 package), else shared.
    const staticLibs = (await out('pkg-config', ['--libs', '--static', 'libbpf'])) ?? '-lbpf -lelf -lz';
    const libdir = await out('pkg-config', ['--variable=libdir', 'libbpf']);
    const archive = libdir ? join(libdir, 'libbpf.a') : undefined;
    const common = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-std=gnu11', `-isystem${headers}`, `-I${src}`, '-o', nodeTemp,
      join(src, 'addon.c'), join(src, 'delivery.c'), join(src, 'ebpf.c')];
    const attempts = [];
    if (archive !== undefined && existsSync(archive)) {
      attempts.push({ how: 'static libbpf.a', libs: [archive, ...staticLibs.split(/\s+/).filter((l) => l !== '' && l !== '-lbpf')] });
    }
    attempts.push({ how: 'shared libbpf', libs: staticLibs.split(/\s+/).filter((l) => l !== '') });
    let linked, lastErr;
    for (const a of attempts) {
      try {
        const { stderr } = await run(cc, [...common, ...a.libs], { timeout: 120_000 });
        if (stderr.trim() !== '') process.stderr.write(stderr);
        linked = a;
        break;
      } catch (err) {
        lastErr = err;
      }
    }
    if (linked === undefined) return skip(lastErr.code === 'ENOENT' ? `compiler '${cc}' not found` : `${cc} failed: ${firstLines(lastErr)}`);
    if (attempts.length > 1 && linked !== attempts[0]) {
      console.log('build-native: realtime.node links the shared libbpf (libbpf.a is not position-independent); hosts need libbpf.so.1');
    }
    renameSync(bpfTemp, bpfOut);
    renameSync(nodeTemp, nodeOut);
  } finally {
    rmSync(temp, { recursive: true, force: true });
    rmSync(bpfTemp, { force: true });
    rmSync(nodeTemp, { force: true });
  }
}

await buildRealtime();
