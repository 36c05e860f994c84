// `listeners` only looks: it reads the agent's id when there is one and writes nothing, so running
// it as root without a config leaves no /var/lib/portwarden behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliPath } from '../../../testkit/paths.js';

const run = promisify(execFile);

function agentIds(stdout: string): string[] {
  return [...new Set(stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { agent: { id: string } }).agent.id))];
}

test('`listeners --config` creates no state dir and writes no agent id; it shows the saved id when there is one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ls-state-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const state = join(dir, 'state');
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `state_dir: ${state}\n`);
  const first = await run(process.execPath, [cliPath, 'listeners', '--json', '--config', config], { maxBuffer: 64 << 20 });
  assert.equal(agentIds(first.stdout).length, 1);
  assert.ok(!existsSync(state), 'no state dir created');
  mkdirSync(state);
  const saved = '0192f0c4-0000-7000-8000-00000000abcd';
  writeFileSync(join(state, 'agent-id'), `${saved}\n`);
  const second = await run(process.execPath, [cliPath, 'listeners', '--json', '--config', config], { maxBuffer: 64 << 20 });
  assert.deepEqual(agentIds(second.stdout), [saved]);
});

test('`listeners` without --config writes nothing to the default state dir (as root: /var/lib/portwarden)', async (t) => {
  if (process.getuid?.() === 0) {
    // A private mount namespace with an empty /var/lib: whatever the command creates there shows.
    const script = `mount -t tmpfs none /var/lib && ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} listeners --json >/dev/null && ls -A /var/lib`;
    const { stdout } = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
    assert.equal(stdout, '', 'nothing created under /var/lib');
    return;
  }
  const xdg = mkdtempSync(join(tmpdir(), 'pw-ls-xdg-'));
  t.after(() => { rmSync(xdg, { recursive: true, force: true }); });
  await run(process.execPath, [cliPath, 'listeners', '--json'], { env: { ...process.env, XDG_STATE_HOME: xdg }, maxBuffer: 64 << 20 });
  assert.ok(!existsSync(join(xdg, 'portwarden')));
});
