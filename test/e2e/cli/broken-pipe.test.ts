import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliPath } from '../../../testkit/paths.js';
import { startListenerChain } from '../../helpers/listeners.js';

const run = promisify(execFile);

/** `portwarden <args> | head -1` in bash with pipefail: the exit code is portwarden's. */
async function intoHead(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = 'set -o pipefail; "$@" | head -1';
  try {
    const { stdout, stderr } = await run('bash', ['-c', script, 'bash', process.execPath, cliPath, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('`listeners --json | head -1` and `run | head -1` end quietly with exit 0 when the reader goes', async (t) => {
  // Far more output than a pipe buffer holds, so the CLI is still writing when head exits.
  const chain = await startListenerChain('pw-epipe', Array.from({ length: 150 }, () => 'tcp:127.0.0.1:0'));
  t.after(() => { chain.kill(); });

  const dir = mkdtempSync(join(tmpdir(), 'pw-epipe-'));
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `state_dir: ${join(dir, 'state')}\ndetect: { enabled: false }\nlog: { file: ${join(dir, 'agent.log')} }\noutputs: [{ type: stdout }]\n`);
  const listeners = await intoHead(['listeners', '--json', '--config', config]);
  assert.equal(listeners.stderr, '');
  assert.equal(listeners.code, 0);
  assert.match(listeners.stdout, /^\{"@timestamp":/);

  const agent = await intoHead(['run', '--config', config]);
  assert.equal(agent.stderr, '');
  assert.equal(agent.code, 0);
  assert.match(agent.stdout, /^\{"@timestamp":/);
});
