import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { DeliveryPipeline } from '../../../agent/pipeline/index.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { cliPath } from '../../../testkit/paths.js';
import { freePort } from '../../../testkit/peers/rsyslog.js';
import { outputConfig, pipelineOptions, tempState, testDoc } from '../../unit/agent/pipeline/support.js';
import { segmentBytes } from '../../helpers/disk.js';
import { waitFor } from '../../helpers/wait.js';

const SPOOL = { max_bytes: 256 * 1024, segment_bytes: 64 * 1024 };

/** A backlog for output `name` that fills the spool to its cap (its output was down). */
async function fillSpool(stateDir: string, name: string): Promise<number> {
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = new DeliveryPipeline(pipelineOptions(stateDir, [{ name, transport: down, config: outputConfig('memory') }], {
    spool: { ...SPOOL, when_full: 'drop_newest' },
  }));
  await p.start();
  for (let i = 1; p.stats().outputs[0]?.dropped.queue_full === undefined; i++) await p.accept(testDoc(i, 'event', 200));
  await p.shutdown();
  return segmentBytes(join(stateDir, 'spool'));
}

/** The agent's config for these tests (a spool as fillSpool left it, when_full: block, one output line); returns it and its log file. */
function agentConfig(dir: string, stateDir: string, output: string): { config: string; log: string } {
  const log = join(dir, 'agent.log');
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, [
    `state_dir: ${stateDir}`,
    `log: { level: debug, file: ${log} }`,
    `spool: { max_bytes: ${SPOOL.max_bytes}, segment_bytes: ${SPOOL.segment_bytes}, when_full: block }`,
    'detect: { enabled: false }',
    'outputs:',
    `  - ${output}`,
    '',
  ].join('\n'));
  return { config, log };
}

test('run: SIGTERM while start-up waits for room in a full spool (output unreachable, when_full: block) stops the agent cleanly: exit 0, not the default action and not an exit with start-up unsettled; the backlog is kept', async (t) => {
  const dir = await tempState(t);
  const stateDir = join(dir, 'state');
  const before = await fillSpool(stateDir, 'syslog');
  assert.ok(before > 200 * 1024, `spool filled: ${before} bytes`);
  // Free a moment ago (the OS chose it) and nothing listens on it: connections are refused.
  const port = await freePort();
  const { config, log } = agentConfig(dir, stateDir, `{ type: syslog, protocol: tcp, host: 127.0.0.1, port: ${port} }`);
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => { resolve({ code, signal }); }));
  t.after(() => { proc.kill('SIGKILL'); });
  const logText = (): string => { try { return readFileSync(log, 'utf8'); } catch { return ''; } };
  // Logged just before the started event is handed to the pipeline, where start-up now waits.
  await waitFor('start-up to reach the agent events', () => / watching /.test(logText()), 30_000);
  assert.ok(!/watching \d+ listener/.test(logText()), 'start-up has not finished (no ready line)');
  proc.kill('SIGTERM');
  const killed = setTimeout(() => { proc.kill('SIGKILL'); }, 15_000);
  const r = await exit;
  clearTimeout(killed);
  assert.deepEqual(r, { code: 0, signal: null }, `clean exit, not killed: ${stderr}\n${logText().split('\n').slice(-5).join('\n')}`);
  assert.match(logText(), /SIGTERM: stopping/);
  // The spool is still full (that is what start-up waited for): the stopped event cannot be written, and the log says so.
  assert.match(logText(), /the stopped event could not be written in \d+ ms/);
  const after = segmentBytes(join(stateDir, 'spool'));
  assert.ok(after >= before, `the backlog is kept: ${after} >= ${before} bytes`);
});

test('run: start-up on a full spool with the output down waits through the retries (the process stays) and completes once the output is back', async (t) => {
  const dir = await tempState(t);
  const stateDir = join(dir, 'state');
  await fillSpool(stateDir, 'http');
  // The output: answers 503 (retryable) until `up`, then takes everything.
  let up = false;
  let refused = 0;
  let received = 0;
  const srv = createHttpServer((req, res) => {
    let body = 0;
    req.on('data', (b: Buffer) => { body += b.length; });
    req.on('end', () => {
      if (!up) {
        refused++;
        res.writeHead(503).end('down');
        return;
      }
      received += body;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => { srv.close(); });
  const { port } = srv.address() as { port: number };
  const { config, log } = agentConfig(dir, stateDir, `{ type: http, url: "http://127.0.0.1:${port}/ingest", retry: { initial: 50ms, max: 200ms } }`);
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code); }));
  t.after(() => { proc.kill('SIGKILL'); });
  const logText = (): string => { try { return readFileSync(log, 'utf8'); } catch { return ''; } };
  await waitFor('start-up to reach the agent events', () => / watching /.test(logText()), 30_000);
  await waitFor('five refused sends while start-up waits', () => refused >= 5 || proc.exitCode !== null, 30_000);
  assert.equal(proc.exitCode, null, `still running: ${logText().split('\n').slice(-3).join('\n')}`);
  assert.ok(!/watching \d+ listener/.test(logText()), 'start-up has not finished (no ready line)');
  up = true;
  await waitFor('the ready line (start-up completed)', () => /watching \d+ listener/.test(logText()), 60_000);
  assert.ok(received > 200 * 1024, `the backlog was delivered: ${received} bytes`);
  proc.kill('SIGTERM');
  assert.equal(await exit, 0);
});
