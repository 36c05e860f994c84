// `portwarden run` says once, after its first poll, what it watches: on a terminal as one plain
// line, in service mode (stderr not a terminal) only as a structured ECS log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getField } from '../../../agent/ecs/document.js';
import { cliPath } from '../../../testkit/paths.js';
import { readNdjson } from '../../helpers/agent-process.js';
import { cliOnPty } from '../../helpers/pty.js';
import { waitFor } from '../../helpers/wait.js';

const READY = /portwarden: watching (\d+) listeners?, (\d+) process(?:es)?; outputs: events, stdout\r?\n/;

function config(dir: string, logFile: boolean): string {
  const file = join(dir, 'portwarden.yaml');
  writeFileSync(file, [
    `state_dir: ${join(dir, 'state')}`, 'interval: 250ms', 'detect: { enabled: false }',
    logFile ? `log: { file: ${join(dir, 'agent.log')} }` : 'log: { level: info }',
    'outputs:', `  - { name: events, type: file, path: ${join(dir, 'events.ndjson')} }`, '  - { type: stdout }',
  ].join('\n') + '\n');
  return file;
}

/** A listener of this test process, so the agent has at least one to count. */
async function listen(): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}

/** The ports of the first poll's listeners as the `events` output got them (listening_existing, not a scheduled inventory's). */
function firstPollPorts(dir: string): number[] {
  return readNdjson(join(dir, 'events.ndjson')).filter((d) => d.event.action === 'listening_existing' && d.event.kind !== 'state')
    .map((d) => Number(getField(d, 'destination.port')));
}

/**
 * The count the ready line gives is the listeners the agent tracks after its first poll: those the
 * poll reported, plus any the kernel said opened (minus closed) while the poll ran, which other
 * tests running beside this one may do. On a quiet host the two sides are equal.
 */
function assertCountMatches(dir: string, count: number): void {
  const docs = readNdjson(join(dir, 'events.ndjson'));
  const existing = firstPollPorts(dir).length;
  const started = docs.filter((d) => d.event.action === 'listening_started').length;
  const stopped = docs.filter((d) => d.event.action === 'listening_stopped').length;
  assert.ok(count >= existing - stopped && count <= existing + started,
    `the count (${count}) is that of the listeners the first poll reported (${existing}; ${started} opened and ${stopped} closed since)`);
}

test('on a terminal, `run` prints one ready line with what it watches (the log going to a file)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ready-'));
  const srv = await listen();
  t.after(() => { srv.close(); rmSync(dir, { recursive: true, force: true }); });
  const run = cliOnPty(['run', '--config', config(dir, true)]);
  try {
    await waitFor('the ready line on the terminal', () => READY.test(run.out()) || undefined, 60_000);
    // Logged as well (ECS JSON in the file).
    await waitFor('the ready line in the log', () => readFileSync(join(dir, 'agent.log'), 'utf8').includes('"message":"watching ') || undefined, 30_000);
  } finally {
    await run.stop();
  }
  const out = run.out();
  const lines = [...out.matchAll(new RegExp(READY.source, 'g'))];
  assert.equal(lines.length, 1, out);
  assert.ok(Number(lines[0]?.[1]) >= 1, 'this test\'s own listener is counted');
  assert.ok(Number(lines[0]?.[2]) >= 2, 'processes counted');
  const ports = firstPollPorts(dir);
  assert.ok(ports.includes((srv.address() as AddressInfo).port), 'this test\'s own listener is among those watched');
  assertCountMatches(dir, Number(lines[0]?.[1]));
});

test('in service mode (stderr not a terminal) the ready line is only a structured ECS log line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ready-'));
  const srv = await listen();
  t.after(() => { srv.close(); rmSync(dir, { recursive: true, force: true }); });
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', config(dir, false)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
  const exited = new Promise<void>((r) => proc.once('exit', () => { r(); }));
  let ready: { message: string; portwarden: { ready: { listeners: number; processes: number; outputs: string[] } } } | undefined;
  try {
    ready = await waitFor('the ECS ready line', () => err.split('\n').slice(0, -1).map((l) => JSON.parse(l) as NonNullable<typeof ready>)
      .find((r) => r.message.startsWith('watching ')), 60_000);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
  assert.ok(!err.includes('portwarden: watching'), 'no plain line in service mode');
  const { listeners, processes, outputs } = ready.portwarden.ready;
  assert.deepEqual(outputs, ['events', 'stdout']);
  assert.ok(listeners >= 1 && processes >= 2);
  const ports = firstPollPorts(dir);
  assert.ok(ports.includes((srv.address() as AddressInfo).port), 'this test\'s own listener is among those watched');
  assertCountMatches(dir, listeners);
  assert.equal(ready.message, `watching ${listeners} listener${listeners === 1 ? '' : 's'}, ${processes} processes; outputs: events, stdout`);
});
