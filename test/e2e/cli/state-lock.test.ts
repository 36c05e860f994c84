import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';
import { cliPath } from '../../../testkit/paths.js';

const exists = (p: string): boolean => { try { lstatSync(p); return true; } catch { return false; } };

function runToExit(config: string): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const timer = setTimeout(() => { proc.kill('SIGKILL'); }, 20_000);
  return new Promise((resolve) => proc.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); }));
}

test('run: a second agent on the same state_dir refuses to start, naming the directory and the holder; the first keeps running', async (t) => {
  const first = startAgent('detect: { enabled: false }\n');
  t.after(() => first.stop());
  await waitFor('the first agent to run', () => first.events().find((d) => d.event.action === 'listening_existing'), 30_000);
  const stateDir = join(first.dir, 'state');
  assert.ok(exists(join(stateDir, 'agent.lock')));

  const second = await runToExit(join(first.dir, 'portwarden.yaml'));
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`state_dir ${stateDir} is in use by another portwarden agent \\(pid ${first.proc.pid}`));

  assert.equal(first.proc.exitCode, null, 'the first agent still runs');
  assert.ok(exists(join(stateDir, 'agent.lock')), 'the refused agent left the lock alone');
  assert.equal(await first.stop(), 0, first.stderr());
  assert.ok(!exists(join(stateDir, 'agent.lock')), 'released at shutdown');
});

test('run: a stale lock (its holder is gone) is taken over', async (t) => {
  const a = startAgent('detect: { enabled: false }\n');
  t.after(() => a.stop());
  await waitFor('the agent to run', () => a.events().find((d) => d.event.action === 'listening_existing'), 30_000);
  a.proc.kill('SIGKILL');
  await a.stop();
  // A pid that is alive but is not the holder (start time differs) does not hold the lock either.
  const lock = join(a.dir, 'state', 'agent.lock');
  unlinkSync(lock);
  symlinkSync('portwarden:1:0', lock);
  const b = spawn(process.execPath, [cliPath, 'run', '--config', join(a.dir, 'portwarden.yaml')], { stdio: 'ignore' });
  t.after(() => { b.kill('SIGKILL'); });
  const exit = new Promise<number | null>((resolve) => b.once('exit', resolve));
  const started = () => a.events().filter((d) => d.event.action === 'started').length;
  await waitFor('the second run to start', () => started() >= 2, 30_000);
  b.kill('SIGTERM');
  assert.equal(await exit, 0);
});
