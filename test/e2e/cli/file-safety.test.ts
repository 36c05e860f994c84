// The agent's files against a hostile local user and a careless umask: real CLI runs, with the
// symlinks and directories a user without privileges could plant, planted by the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNdjson } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';
import { cliPath } from '../../../testkit/paths.js';

const mode = (p: string): string => (lstatSync(p).mode & 0o7777).toString(8);

interface Run { code: Promise<number | null>; stop: () => Promise<number | null>; stderr: () => string }

/** `portwarden run` under umask 000 (the worst umask a service manager could hand it). */
function run(config: string): Run {
  const proc = spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const timer = setTimeout(() => { proc.kill('SIGKILL'); }, 60_000);
  const code = new Promise<number | null>((resolve) => proc.once('exit', (c) => { clearTimeout(timer); resolve(c); }));
  return {
    code,
    stderr: () => err,
    stop: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return code;
    },
  };
}

function setup(): { dir: string; state: string; log: string; events: string; victim: string; config: (extra?: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'pw-files-'));
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const state = join(dir, 'state');
  const log = join(dir, 'agent.log');
  const events = join(dir, 'events.ndjson');
  const config = (extra = ''): string => {
    const file = join(dir, `pw-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, `state_dir: ${state}\ninterval: 250ms\nlog: { level: debug, file: ${log} }\n`
      + `outputs: [{ type: file, path: ${events}, batch: { max_wait: 100ms } }]\n`
      + `detect: { baseline: { save_interval: 100ms } }\n${extra}`);
    return file;
  };
  return { dir, state, log, events, victim, config };
}

const started = (events: string): number => readNdjson(events).filter((d) => d.event.action === 'started').length;

test('run under umask 000: state directories 0700, state files 0600, the log 0640; symlinks planted at the old tmp names are never written through', async (t) => {
  const s = setup();
  const first = run(s.config());
  t.after(() => first.stop());
  await waitFor('the first run to deliver', () => started(s.events) >= 1 && readNdjson(s.events).some((d) => d.event.action === 'listening_existing'), 30_000);
  await waitFor('the baseline to be saved', () => { try { return statSync(join(s.state, 'baseline.json')); } catch { return undefined; } }, 30_000);
  assert.equal(await first.stop(), 0, first.stderr());

  const spool = join(s.state, 'spool');
  const cursors = join(spool, 'cursors');
  for (const d of [s.state, spool, cursors]) assert.equal(mode(d), '700', d);
  const segments = readdirSync(spool).filter((n) => n.endsWith('.seg'));
  assert.ok(segments.length > 0);
  for (const f of [join(s.state, 'agent-id'), join(s.state, 'baseline.json'), join(spool, 'head.json'), join(cursors, 'file.cursor'), ...segments.map((n) => join(spool, n))]) {
    assert.equal(mode(f), '600', f);
  }
  assert.equal(mode(s.log), '640');
  assert.deepEqual(readdirSync(s.state).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');

  // A local user who can write into these directories plants links at the names the tmp files had.
  const planted = [join(spool, 'head.json.tmp'), join(cursors, 'file.cursor.tmp'), join(s.state, 'baseline.json.tmp'), join(s.state, 'agent-id.tmp')];
  for (const p of planted) symlinkSync(s.victim, p);
  const second = run(s.config());
  t.after(() => second.stop());
  await waitFor('the second run to deliver', () => started(s.events) >= 2, 30_000);
  await waitFor('its listeners to be delivered', () => {
    const docs = readNdjson(s.events);
    const eph = (d: (typeof docs)[number]): unknown => (d['agent'] as { ephemeral_id?: string } | undefined)?.ephemeral_id;
    const second = docs.filter((d) => d.event.action === 'started')[1];
    return second !== undefined && docs.some((d) => d.event.action === 'listening_existing' && eph(d) === eph(second));
  }, 30_000);
  assert.equal(await second.stop(), 0, second.stderr());
  assert.equal(readFileSync(s.victim, 'utf8'), 'precious\n', 'the victim file is untouched');
  assert.equal(mode(s.victim), '644');
  for (const p of planted) assert.ok(lstatSync(p).isSymbolicLink(), `${p} left as it was`);
});

test('run: a log file that is a planted symlink is refused with exit 2 naming log.file; the target is untouched', async () => {
  const s = setup();
  symlinkSync(s.victim, s.log);
  const r = run(s.config());
  assert.equal(await r.code, 2, r.stderr());
  assert.match(r.stderr(), /: log\.file: a regular file .*not a symlink/);
  assert.equal(readFileSync(s.victim, 'utf8'), 'precious\n');
});

test('run: a state_dir that leads to a world-writable directory, or one owned by another user, is refused with exit 2 naming it', async () => {
  const s = setup();
  const open = join(s.dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  symlinkSync(open, s.state);
  const r = run(s.config());
  assert.equal(await r.code, 2, r.stderr());
  assert.match(r.stderr(), new RegExp(`: state_dir: a directory only the agent's user or root can change; ${open} \\(where ${s.state} leads\\) is world-writable`));
  assert.deepEqual(readdirSync(open), [], 'nothing written there');

  if (process.getuid?.() !== 0) return;
  const s2 = setup();
  const theirs = join(s2.dir, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, 65534, 65534);
  symlinkSync(theirs, s2.state);
  const r2 = run(s2.config());
  assert.equal(await r2.code, 2, r2.stderr());
  assert.match(r2.stderr(), /: state_dir: .* is owned by uid 65534, neither the agent's user \(0\) nor root/);
  assert.deepEqual(readdirSync(theirs), []);
});
