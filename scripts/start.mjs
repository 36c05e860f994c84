#!/usr/bin/env node
// `npm start`: builds only when a source is newer than dist/ (a fresh build costs ~40 s on a busy
// host, a fresh check milliseconds), says so on stderr, then runs `portwarden run`. Ctrl-C is passed
// to the agent once; this wrapper waits for it and exits with its code, so npm ends with 0 after a
// clean stop, not 130.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const SOURCES = ['agent', 'transports', 'config', 'testkit', 'native', 'scripts', 'tsconfig.json', 'package.json'];
// Written after a build this script ran: tsc leaves unchanged outputs (and its build info) untouched,
// so their times say nothing about freshness.
const STAMP = join(root, 'dist', '.start-build-stamp');

function newest(path) {
  let st;
  try { st = statSync(path); } catch { return 0; }
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  return m;
}

function builtAt() {
  try { return statSync(STAMP).mtimeMs; } catch { return 0; }
}

const src = Math.max(...SOURCES.map((s) => newest(join(root, s))));
if (src > builtAt()) {
  process.stderr.write('portwarden: sources changed since the last build; building (npm run build)...\n');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
} else {
  process.stderr.write('portwarden: dist/ is up to date; starting without a build\n');
}
process.stderr.write('portwarden: starting `portwarden run` (Ctrl-C stops it)\n');
// Its own process group: a Ctrl-C reaches the agent once, from here, whether the terminal signalled
// the whole group or npm passed the signal on (the agent stops on the first; a second would kill it).
const child = spawn(process.execPath, [join(root, 'dist', 'agent', 'cli', 'bin.js'), 'run', ...process.argv.slice(2)], { stdio: 'inherit', detached: true });
let forwarded = false;
const forward = (signal) => {
  if (forwarded) return;
  forwarded = true;
  child.kill(signal);
};
process.on('SIGINT', () => { forward('SIGINT'); });
process.on('SIGTERM', () => { forward('SIGTERM'); });
child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 1 : 128 + 2)); });
