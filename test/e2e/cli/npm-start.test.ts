import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../testkit/paths.js';
import { waitFor } from '../../helpers/wait.js';

test('npm start skips the build when dist/ is fresh, says it is starting, and Ctrl-C ends npm with 0', async (t) => {
  // The suite runs after `npm run build`: dist/ is fresh, as the start script's stamp now says.
  writeFileSync(join(repoRoot, 'dist', '.start-build-stamp'), `${new Date().toISOString()}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'pw-npm-start-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `state_dir: ${join(dir, 'state')}\ndetect: { enabled: false }\nlog: { file: ${join(dir, 'agent.log')} }\noutputs: [{ type: file, path: ${join(dir, 'events.ndjson')} }]\n`);
  const npm = spawn('npm', ['start', '--silent', '--', '--config', config], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  npm.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((r) => npm.once('exit', (code) => { r(code); }));
  await waitFor('the start line', () => (err.includes('starting `portwarden run`') ? true : undefined), 30_000);
  assert.match(err, /dist\/ is up to date; starting without a build/);
  assert.doesNotMatch(err, /building/);
  await waitFor('the agent\'s started event', () => {
    try {
      return readFileSync(join(dir, 'events.ndjson'), 'utf8').includes('"action":"started"') ? true : undefined;
    } catch {
      return undefined;
    }
  }, 60_000);
  npm.kill('SIGINT');
  assert.equal(await exited, 0, err);
});
