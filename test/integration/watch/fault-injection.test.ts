// No error on the event path can end the agent: a watcher with its own poll timer, faults injected
// into detection, the pipeline's accept (throwing and rejecting), the collector and real-time
// deliveries, runs in a child process with Node's default handling of uncaught errors (exit 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

test('faults injected on the event path (rules throwing, accept throwing and rejecting, collector failing) never end the process; events flow again after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-faults-'));
  const out = join(dir, 'events.ndjson');
  writeFileSync(out, '');
  const harness = join(dirname(fileURLToPath(import.meta.url)), 'fault-harness.js');
  const child = spawn(process.execPath, [harness, join(dir, 'state'), out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const timer = setTimeout(() => { child.kill('SIGKILL'); }, 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => { clearTimeout(timer); resolve(c); }));
  assert.equal(code, 0, `the process ended: ${stderr.slice(0, 2000)}`);
  const faults = Number(/faults (\d+)/.exec(stdout)?.[1] ?? 0);
  assert.ok(faults >= 60, `faults injected: ${faults}`);
  assert.match(stdout, /delivered 9999/, 'a listener opened after the faults is delivered');
});
