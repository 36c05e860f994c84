import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../../testkit/paths.js';
import { waitFor } from '../../testkit/wait.js';
import { spawnNodeExe, winPath } from '../../testkit/wine.js';
import { dir, docs, skip, startListener, useWine, w, type Doc } from './wine-env.js';

/**
 * `portwarden run` with process events under the Windows node.exe in a wine prefix: a Windows
 * process it sees start carries its executable's PE version info, imphash and hashes (read by the
 * agent's own PE reader), and the token integrity level and working directory where wine answers.
 */
useWine();

type Proc = { pid?: number; executable?: string; working_directory?: string; pe?: Record<string, string>; hash?: Record<string, string>; Ext?: { token?: { integrity_level_name?: string } } };
const proc = (d: Doc): Proc => (d.process as Proc | undefined) ?? {};
const sum = (algo: string, file: string): string => spawnSync(`${algo}sum`, [file], { encoding: 'utf8' }).stdout.split(' ')[0] ?? '';

test('run: process events carry process.pe.*, process.hash.*, integrity level and working directory', { skip, timeout: 600_000 }, async (t) => {
  const state = join(dir, 'state');
  const events = join(dir, 'events.ndjson');
  const config = join(dir, 'run.yml');
  writeFileSync(config, [
    `state_dir: '${winPath(state)}'`, 'interval: 1s', 'detect: { enabled: false }', 'events: { process: true }',
    `log: { file: '${winPath(join(dir, 'agent.log'))}' }`,
    `outputs: [{ type: file, path: '${winPath(events)}', batch: { max_wait: 100ms } }]`, '',
  ].join('\n'));
  const agent = spawnNodeExe(w, [winPath(cliPath), 'run', '--config', winPath(config)], { stdout: join(dir, 'run.out'), stderr: join(dir, 'run.err') });
  t.after(() => agent.kill('SIGKILL'));
  const read = () => (existsSync(events) ? docs(readFileSync(events, 'utf8')) : []);
  await waitFor('the agent\'s first inventory', () => read().some((d) => d.event.action === 'listening_existing'), 300_000, 200);

  // Wine's own processes running before the agent: already_running, with their PE version info (an
  // event whose executable is still being read is held until it is, so it may come after the inventory).
  const withPe = () => read().filter((d) => d.event.action === 'already_running' && proc(d).pe?.original_file_name !== undefined);
  const running = await waitFor('already_running events with process.pe.*', () => withPe().length > 0 && withPe(), 120_000, 200);
  for (const d of running.slice(0, 5)) t.diagnostic(`already_running ${proc(d).executable ?? '?'}: ${JSON.stringify(proc(d).pe)}`);
  assert.ok(read().filter((d) => d.event.action === 'already_running').every((d) => proc(d).executable === undefined || proc(d).pe !== undefined || proc(d).hash !== undefined),
    'every already_running process with an executable carries what was read from it');

  const l = await startListener('exe');
  t.after(l.stop);
  const started = await waitFor('the Windows child\'s start event', () => read().find((d) => d.event.action === 'start' && proc(d).pid === l.opened.pid), 120_000, 200);
  const p = proc(started);
  t.diagnostic(`start ${p.executable ?? '?'}: pe ${JSON.stringify(p.pe)}; integrity ${p.Ext?.token?.integrity_level_name ?? '(absent)'}; cwd ${p.working_directory ?? '(absent)'}`);
  const pe = p.pe ?? {};
  const hash = p.hash ?? {};
  assert.equal(pe.original_file_name, 'node.exe');
  assert.equal(pe.product, 'Node.js');
  assert.equal(pe.description, 'Node.js JavaScript Runtime');
  assert.equal(pe.company, 'Node.js');
  assert.equal(pe.file_version, w.versions.node);
  assert.match(pe.imphash ?? '', /^[0-9a-f]{32}$/);
  assert.equal(hash.sha256, sum('sha256', w.nodeExe));
  assert.equal(hash.md5, sum('md5', w.nodeExe));
  assert.equal(hash.sha1, sum('sha1', w.nodeExe));
  // The parent (also node.exe) is described the same way under process.parent.
  assert.equal((p as { parent?: Proc }).parent?.pe?.original_file_name, 'node.exe');
  // wine answers GetTokenInformation(TokenIntegrityLevel) for its processes (an administrator's
  // token: High) and keeps a real PEB, so the working directory is the Windows path it started in.
  assert.equal(p.Ext?.token?.integrity_level_name, 'High');
  assert.match(p.working_directory ?? '', /^[A-Z]:\\/);
});
