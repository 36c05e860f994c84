#!/usr/bin/env node
// Compiles the native addons into dist/native/ with the system compilers against Node's own headers
// (no node-gyp):
//   native/sock_diag.c     -> sock_diag.node     (C)   the Linux collector's netlink dump and /proc walks
//   native/heap_control.cc -> heap_control.node  (C++) V8 memory reduction when a start-up burst ends
//   native/realtime/{netlink_addon,proc_connector,sock_destroy}.c -> netlink_events.node (C)
//                                                   the real-time source's proc connector and socket destroy events
// Never fails the build: an addon that cannot be built is skipped with one warning, and the agent
// works without it (the Linux collector uses `ss`; V8's memory reducer frees the heap later).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'native');

const addons = [
  {
    name: 'sock_diag.node', source: 'sock_diag.c', compiler: process.env.CC || 'cc', flags: ['-std=gnu11'],
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
