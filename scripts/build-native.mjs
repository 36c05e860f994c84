#!/usr/bin/env node
// Compiles native/sock_diag.c into dist/native/sock_diag.node with the system C compiler against
// Node's own headers (no node-gyp). Never fails the build: without a compiler or headers it prints
// one warning and exits 0, and the Linux collector falls back to `ss`.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'sock_diag.c');
const outDir = join(root, 'dist', 'native');
const output = join(outDir, 'sock_diag.node');

function warn(reason) {
  // A stale addon from an earlier build would contradict the message below.
  rmSync(output, { force: true });
  console.warn(`build-native: skipped sock_diag.node (${reason}); the Linux collector will use ss -ltnuHe instead`);
  process.exit(0);
}

if (process.platform !== 'linux') process.exit(0);

// <prefix>/bin/node -> <prefix>/include/node; PORTWARDEN_NODE_HEADERS overrides (e.g. a headers tarball).
const candidates = [
  process.env.PORTWARDEN_NODE_HEADERS,
  join(dirname(dirname(process.execPath)), 'include', 'node'),
].filter((d) => d !== undefined && d !== '');
const headers = candidates.find((d) => existsSync(join(d, 'node_api.h')));
if (headers === undefined) warn(`node_api.h not found in ${candidates.join(', ')}`);

const cc = process.env.CC || 'cc';
// Built beside the target and renamed over it, so a running agent never maps a half-written file.
const temp = `${output}.${process.pid}.tmp`;
const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-std=gnu11', `-I${headers}`, '-o', temp, source];
mkdirSync(outDir, { recursive: true });
execFile(cc, args, { timeout: 120_000 }, (err, _stdout, stderr) => {
  if (err) {
    rmSync(temp, { force: true });
    const detail = err.code === 'ENOENT' ? `C compiler '${cc}' not found` : `${cc} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || err.message.split('\n')[0]}`;
    warn(detail);
  }
  if (stderr.trim() !== '') process.stderr.write(stderr);
  renameSync(temp, output);
});
