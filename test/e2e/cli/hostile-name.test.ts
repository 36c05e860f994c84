import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../../../testkit/paths.js';
import { startListenerChain } from '../../helpers/listeners.js';
import { waitFor } from '../../helpers/wait.js';

// Retitles the terminal (OSC 0 ... BEL) and clears the screen (CSI 2J) when printed raw.
const HOSTILE = '\x1b]0;pw\x07\x1b[2J';
const SHOWN = '\\x1b]0;pw\\x07\\x1b[2J';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`); resolves with what the terminal got. */
function onPty(args: string[], until: (out: string) => boolean): Promise<string> {
  const cmd = [process.execPath, cliPath, ...args].map(shellQuote).join(' ');
  const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); });
  const exited = new Promise<void>((r) => proc.once('exit', () => { r(); }));
  return waitFor('the expected terminal output', () => (until(out) ? out : undefined), 60_000)
    .finally(async () => {
      if (proc.exitCode === null && proc.pid !== undefined) process.kill(-proc.pid, 'SIGTERM');
      await exited;
    });
}

function assertNoRawEscapes(out: string): void {
  assert.ok(!out.includes('\x07'), 'a raw BEL reached the terminal');
  assert.ok(!out.includes('\x1b]0;pw'), 'a raw OSC sequence reached the terminal');
  assert.ok(!out.includes('\x1b[2J'), 'a raw clear-screen reached the terminal');
}

test('a listener under a process named with escape sequences is shown escaped by `listeners` and `run`', async (t) => {
  const chain = await startListenerChain(HOSTILE, ['tcp:127.0.0.1:0']);
  t.after(() => { chain.kill(); });
  const port = chain.opened[0]?.port ?? 0;

  const dir = mkdtempSync(join(tmpdir(), 'pw-hostile-'));
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `state_dir: ${join(dir, 'state')}\ninterval: 250ms\ndetect: { enabled: false }\nlog: { file: ${join(dir, 'agent.log')} }\noutputs: [{ type: stdout }]\n`);
  const table = await onPty(['listeners', '--config', config, '--port', String(port)], (o) => o.includes(`:${port}`) && o.includes('\n', o.indexOf(`:${port}`)));
  assertNoRawEscapes(table);
  assert.ok(table.includes(`${SHOWN}[${chain.proc.pid}]`), `the ancestry names the process escaped:\n${table}`);

  const lines = await onPty(['run', '--config', config], (o) => o.includes(`:${port}`) && o.includes(SHOWN));
  assertNoRawEscapes(lines);
  const line = lines.split('\n').find((l) => l.includes(`:${port}`)) ?? '';
  assert.match(line, /listening_existing/);
  assert.ok(line.includes(`${SHOWN}[${chain.proc.pid}]`), line);
});
