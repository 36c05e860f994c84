/**
 * A stop while the spool is full and the only output is down (`when_full: block`): the watcher
 * waits for room that never comes, yet `portwarden run` must stop within its 5 s and say what it
 * could not keep. Before, the watch stage waited for the spool until the 5 s ran out (exit 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

/** A loopback port nothing listens on (connections are refused): the SIEM is down. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => { s.listen(0, '127.0.0.1', resolve); });
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => { s.close(() => { resolve(); }); });
  return port;
}

test('run: SIGTERM with a full spool and the output down ends within the 5 s budget, exit 0, and the log says what was dropped', async (t) => {
  const port = await closedPort();
  const agent = startAgent('events: { process: true }\ndetect: { enabled: false }\nspool: { max_bytes: 256KiB }\n', {
    outputsYaml: `outputs:\n  - type: http\n    url: http://127.0.0.1:${port}/events\n    retry: { initial: 100ms, max: 500ms }\n`,
  });
  t.after(() => agent.stop());
  // Process churn: exec and end events keep coming while nothing leaves the spool.
  const churn = spawn('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' });
  t.after(() => { churn.kill('SIGKILL'); });

  // Full, and no longer growing between two status writes (every 2 s) while the churn goes on:
  // the watcher waits on the spool with events in hand.
  const status = join(agent.dir, 'state', 'status.json');
  let last: { at: number; bytes: number } | undefined;
  await waitFor('the spool full and the watcher waiting on it', () => {
    let s: { pipeline?: { spool_bytes: number; spool_max_bytes: number } };
    let at: number;
    try {
      at = statSync(status).mtimeMs;
      s = JSON.parse(readFileSync(status, 'utf8')) as typeof s;
    } catch {
      return undefined;
    }
    if (s.pipeline === undefined || s.pipeline.spool_bytes < 0.9 * s.pipeline.spool_max_bytes || at === last?.at) return undefined;
    const steady = last !== undefined && last.bytes === s.pipeline.spool_bytes;
    last = { at, bytes: s.pipeline.spool_bytes };
    return steady ? true : undefined;
  }, 60_000);
  const t0 = Date.now();
  const code = await agent.stop();
  const took = Date.now() - t0;
  const log = readFileSync(join(agent.dir, 'agent.log'), 'utf8');
  const lines = log.split('\n').filter((l) => l.includes('stopping'));
  t.diagnostic(`stopped in ${took} ms: ${lines.map((l) => (JSON.parse(l) as { message: string }).message).join(' | ')}`);
  assert.equal(code, 0, `exit 0, not the 5 s budget's exit 1: ${agent.stderr()}`);
  assert.doesNotMatch(log, /shutdown took longer than 5 s/);
  assert.match(log, /stopping: the spool is full and the outputs made no room in time/);
  assert.match(log, /stopping: \d+ (real-time )?event\(s\) (the agent still held|not yet applied) were dropped/, 'the log counts what was dropped');
});
