import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startListenerChain } from '../../helpers/listeners.js';
import { onPty } from '../../helpers/pty.js';

// Retitles the terminal (OSC 0 ... BEL) and clears the screen (CSI 2J) when printed raw.
const HOSTILE = '\x1b]0;pw\x07\x1b[2J';
const SHOWN = '\\x1b]0;pw\\x07\\x1b[2J';

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
  const table = await onPty(['listeners', '--config', config, '--port', String(port)], (o) => o.includes(`:${port}`) && o.includes('\n', o.indexOf(`:${port}`)), 'latin1');
  assertNoRawEscapes(table);
  assert.ok(table.includes(`${SHOWN}[${chain.proc.pid}]`), `the ancestry names the process escaped:\n${table}`);

  const lines = await onPty(['run', '--config', config], (o) => o.includes(`:${port}`) && o.includes(SHOWN), 'latin1');
  assertNoRawEscapes(lines);
  const line = lines.split('\n').find((l) => l.includes(`:${port}`)) ?? '';
  assert.match(line, /listening_existing/);
  assert.ok(line.includes(`${SHOWN}[${chain.proc.pid}]`), line);
});
