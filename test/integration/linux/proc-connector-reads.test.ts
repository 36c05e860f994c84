/**
 * The proc connector (the real-time source without eBPF) reads an exec'd process's /proc files at
 * receipt (native/realtime/proc_connector.c); the converter completes the record with what that
 * read does not give. Each file is read once per exec: counted with strace on the agent's source
 * in a child process, around a real exec (a shell that execs sleep, so no fork comes with it).
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../../testkit/paths.js';

/**
 * Only the syscalls counted stop the traced agent (--seccomp-bpf): every other one would stop it
 * twice, and a source slowed several times over falls behind the host's execs under CI load.
 */
const STRACE = ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=open,openat,readlink,readlinkat,access,faccessat,faccessat2'];
const hasStrace = spawnSync('strace', ['-V']).status === 0;
/** strace installed, and allowed to trace here (ptrace can be denied: Yama, a container's seccomp). */
const canTrace = hasStrace && spawnSync('strace', [...STRACE, '-o', '/dev/null', 'true']).status === 0;
const skip = process.platform !== 'linux' ? 'Linux only' : process.getuid?.() !== 0 ? 'needs root (CAP_NET_ADMIN)'
  : !hasStrace ? 'strace not installed' : !canTrace ? 'strace cannot trace here (ptrace not permitted)' : false;

const dist = (...p: string[]) => pathToFileURL(join(repoRoot, 'dist', ...p)).href;

/**
 * The agent's Linux source in proc-connector mode: prints each exec it converts as a JSON line;
 * on a line "mark" on stdin touches /proc/self/pw-mark (a line in the trace) and says "marked".
 */
const CHILD = `
import { accessSync } from 'node:fs';
import { createInterface } from 'node:readline';
const { LinuxSource } = await import(${JSON.stringify(dist('agent', 'sources', 'linux', 'source.js'))});
const { silentLogger } = await import(${JSON.stringify(dist('agent', 'log', 'logger.js'))});
const source = new LinuxSource({ logger: silentLogger, realtime: { mode: 'proc_connector', ringBytes: 1 << 20, nativeDir: ${JSON.stringify(join(repoRoot, 'dist', 'native'))} } });
await source.start();
const feed = source.realtime();
const st = feed.status();
if (st.mode !== 'proc_connector') { console.log(JSON.stringify({ error: st.reasons })); process.exit(1); }
feed.subscribe((events) => {
  for (const e of events) if (e.kind === 'exec') console.log(JSON.stringify({ exec: e.record }));
});
console.log('ready');
// The test's end of stdin closing (the test failed and killed strace, which leaves this process
// running untraced) ends it too: no proc-connector reader outlives the test.
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'mark') { try { accessSync('/proc/self/pw-mark'); } catch {} console.log('marked'); }
  if (l === 'end') { feed.close(); source.shutdown(); process.exit(0); }
}).on('close', () => { process.exit(0); });
`;

interface ExecLine { exec?: { pid: number; name: string; executable?: string; args?: string[]; pgid?: number; sid?: number; workingDirectory?: string }; error?: string[] }

/** The next line of `lines` that `want` accepts. */
function nextLine<T>(lines: Interface, want: (l: string) => T | undefined, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => { clearTimeout(timer); lines.off('line', on); lines.off('close', closed); };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}`)); }, 30_000);
    const closed = () => { done(); reject(new Error(`the traced source ended before ${what} (strace's or the source's error above)`)); };
    const on = (l: string) => {
      let v: T | undefined;
      try {
        v = want(l);
      } catch (err) {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (v === undefined) return;
      done();
      resolve(v);
    };
    lines.on('line', on);
    lines.once('close', closed);
  });
}

function execOf(pid: number, name: string) {
  return (l: string): NonNullable<ExecLine['exec']> | undefined => {
    if (!l.startsWith('{')) return undefined;
    const v = JSON.parse(l) as ExecLine;
    if (v.error !== undefined) throw new Error(`proc connector not running: ${v.error.join('; ')}`);
    return v.exec?.pid === pid && v.exec.name === name ? v.exec : undefined;
  };
}

/** After the test: its stdin closed first (the traced source exits on that), then SIGKILL. */
function kill(t: TestContext, c: ChildProcess): void {
  t.after(() => { c.stdin?.destroy(); if (c.exitCode === null) c.kill('SIGKILL'); });
}

test('proc connector: an exec\'s /proc files are read once each, and the event keeps its executable, argv, group, session and directory', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pc-reads-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const trace = join(dir, 'trace');
  const agent = spawn('strace', [...STRACE, '-o', trace,
    process.execPath, '--input-type=module', '-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  kill(t, agent);
  const lines = createInterface({ input: agent.stdout });
  await nextLine(lines, (l) => (l === 'ready' ? true : l.includes('"error"') ? (() => { throw new Error(l); })() : undefined), 'the source running');

  const shell = spawn('sh', ['-c', 'read x; exec sleep 30'], { stdio: ['pipe', 'ignore', 'inherit'] });
  kill(t, shell);
  const pid = shell.pid ?? 0;
  await nextLine(lines, execOf(pid, 'sh'), 'the shell\'s exec');
  agent.stdin.write('mark\n');
  await nextLine(lines, (l) => (l === 'marked' ? true : undefined), 'the first mark');
  shell.stdin.write('go\n');
  const exec = await nextLine(lines, execOf(pid, 'sleep'), 'the exec of sleep');
  agent.stdin.write('mark\n');
  await nextLine(lines, (l) => (l === 'marked' ? true : undefined), 'the second mark');
  const exited = new Promise((resolve) => { agent.once('exit', resolve); });
  agent.stdin.write('end\n');
  await exited;

  // What the user gets: the event is whole.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  assert.equal(exec.executable, spawnSync('readlink', [`/proc/${pid}/exe`]).stdout.toString().trim());
  assert.deepEqual(exec.args, ['sleep', '30']);
  // 0 in /proc/<pid>/stat: the leader lives outside this pid namespace (a container's test runner);
  // the record then carries none, as the ECS document carries no group_leader / session_leader.
  assert.ok(fields.length > 4, `a whole /proc/${pid}/stat: ${stat}`);
  const leader = (f: string | undefined) => (Number(f) > 0 ? Number(f) : undefined);
  assert.deepEqual([exec.pgid, exec.sid], [leader(fields[2]), leader(fields[3])], `process group and session as /proc/${pid}/stat says (${fields[2]} ${fields[3]})`);
  assert.equal(exec.workingDirectory, process.cwd());

  // Between the two marks, the files of /proc/<pid> the agent touched, and how often.
  const text = readFileSync(trace, 'utf8');
  const from = text.indexOf('/proc/self/pw-mark');
  const to = text.indexOf('/proc/self/pw-mark', from + 1);
  assert.ok(from !== -1 && to !== -1, 'both marks traced');
  const counts = new Map<string, number>();
  for (const m of text.slice(from, to).matchAll(new RegExp(`"/proc/${pid}/([^"]+)"`, 'g'))) counts.set(m[1] ?? '', (counts.get(m[1] ?? '') ?? 0) + 1);
  t.diagnostic(`reads of /proc/${pid}: ${JSON.stringify(Object.fromEntries(counts))}`);
  for (const f of ['stat', 'status', 'cmdline', 'exe', 'ns/net']) assert.ok(counts.has(f), `${f} read (${JSON.stringify(Object.fromEntries(counts))})`);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no file of the exec read twice');
});
