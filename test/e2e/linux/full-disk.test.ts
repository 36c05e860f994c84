import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { statSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getField } from '../../../agent/ecs/document.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { readNdjson } from '../../helpers/agent-process.js';
import { fill, mountExt4, mountTmpfs, segmentBytes, shutdownExt4, unmount } from '../../helpers/disk.js';
import { waitFor } from '../../helpers/wait.js';
import { cliPath } from '../../../testkit/paths.js';

const listen = (n: number): string => `import socket,sys\nss=[socket.socket() for _ in range(${n})]\nfor s in ss:\n  s.bind(("127.0.0.1",0))\n  s.listen()\nprint(" ".join(str(s.getsockname()[1]) for s in ss),flush=True)\nsys.stdin.read()`;

/** Starts n listeners in one python3; resolves with the process and their ports. */
async function listeners(n: number): Promise<{ py: ChildProcess; ports: number[] }> {
  const py = spawn('python3', ['-c', listen(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ports = await new Promise<number[]>((resolve) => { py.stdout.once('data', (b: Buffer) => { resolve(b.toString().trim().split(' ').map(Number)); }); });
  return { py, ports };
}

function run(config: string): { proc: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  return { proc, exit: new Promise((resolve) => proc.once('exit', resolve)), stderr: () => err };
}

/**
 * A temp dir whose `state` (the agent's state_dir) is a filesystem `mount` mounts (unmounted after
 * the test), and the agent's config there: a file output to `events`, logging to `log`.
 */
function setUp(t: { after: (fn: () => void) => void }, prefix: string, mount: (state: string, dir: string) => void): { state: string; events: string; log: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const state = join(dir, 'state');
  mount(state, dir);
  t.after(() => {
    unmount(state);
    rmSync(dir, { recursive: true, force: true });
  });
  const events = join(dir, 'events.ndjson');
  const log = join(dir, 'agent.log');
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `state_dir: ${state}\ninterval: 250ms\nlog: { level: info, file: ${log} }\ndetect: { enabled: false }\n`
    + `outputs:\n  - type: file\n    path: ${events}\n    batch: { max_wait: 100ms }\n`);
  return { state, events, log, config };
}

test('run: a full disk under state_dir with the output up: delivery goes on, space comes back by itself, start on a full disk', async (t) => {
  const { state, events, log, config } = setUp(t, 'pw-full-', (st) => { mountTmpfs(st, '6m', '0700'); });
  const agent = run(config);
  t.after(() => { agent.proc.kill('SIGKILL'); });
  await waitFor('the first inventory', () => readNdjson(events).find((d) => d.event.action === 'listening_existing'), 30_000);
  // Delivered events the agent can free: 100 listeners' documents in its spool (on a quiet host the
  // first inventory alone is a few KB, too little to make room for anything).
  const earlier = await listeners(100);
  t.after(() => { earlier.py.kill('SIGKILL'); });
  await waitFor('100 listeners delivered before the disk fills', () => new Set(readNdjson(events).filter((d) => d.event.action === 'listening_started')
    .map((d) => getField(d, 'destination.port')).filter((p) => earlier.ports.includes(p as number))).size === 100, 30_000);

  const filler = join(state, 'filler');
  const filled = fill(filler);
  assert.ok(filled > 0);
  const { py, ports } = await listeners(20);
  t.after(() => { py.kill('SIGKILL'); });
  const t0 = Date.now();
  const delivered = (): number => new Set(readNdjson(events).filter((d) => d.event.action === 'listening_started')
    .map((d) => getField(d, 'destination.port')).filter((p) => ports.includes(p as number))).size;
  await waitFor('all 20 new listeners delivered while the disk is full', () => delivered() === 20, 60_000);
  const recoverMs = Date.now() - t0;
  // The filler is still there: the agent freed space from its own delivered segments.
  assert.equal(statSync(filler).size, filled);
  const warnings = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('spool fsync failed')).length;
  assert.ok(warnings <= 2, `${warnings} fsync warnings: aggregated, not one per 500 ms`);
  agent.proc.kill('SIGTERM');
  assert.equal(await agent.exit, 0, `${agent.stderr()}\n${readFileSync(log, 'utf8').slice(-2500)}`);

  // Start again on a disk filled to the last byte, with only the host's own listeners: the first
  // inventory must fit in what the agent frees (its delivered segments), as on a real host.
  earlier.py.kill('SIGKILL');
  py.kill('SIGKILL');
  fill(filler);
  const before = readNdjson(events).filter((d) => d.event.action === 'started').length;
  const again = run(config);
  t.after(() => { again.proc.kill('SIGKILL'); });
  const t1 = Date.now();
  await waitFor('the agent to start on a full disk', () => readNdjson(events).filter((d) => d.event.action === 'started').length > before, 60_000);
  const startMs = Date.now() - t1;
  again.proc.kill('SIGTERM');
  assert.equal(await again.exit, 0, `${again.stderr()}\n${readFileSync(log, 'utf8').slice(-2500)}`);
  t.diagnostic(`20 listeners delivered ${recoverMs} ms after the disk filled; started on a full disk in ${startMs} ms`);
});

test('run: a disk full before the agent starts, nothing it could free: events go out from memory, in-band degraded/resumed, exit 0', async (t) => {
  const { state, events, log, config } = setUp(t, 'pw-full-', (st) => { mountTmpfs(st, '2m', '0700'); });
  // Full to the last byte before the agent ever ran: no spool, no segment to delete.
  const filler = join(state, 'filler');
  fill(filler, true);
  const agent = run(config);
  t.after(() => { agent.proc.kill('SIGKILL'); });
  const action = (a: string): EcsDocument[] => readNdjson(events).filter((d) => d.event.action === a);
  await waitFor('started', () => action('started').length === 1, 60_000);
  await waitFor('spool_degraded', () => action('spool_degraded').length === 1, 30_000);
  assert.equal(getField(action('spool_degraded')[0] ?? {}, 'portwarden.spool.reason'), 'ENOSPC');
  const { py, ports } = await listeners(20);
  t.after(() => { py.kill('SIGKILL'); });
  const delivered = (): number => new Set(action('listening_started').map((d) => getField(d, 'destination.port')).filter((p) => ports.includes(p as number))).size;
  await waitFor('20 new listeners delivered while the disk stays full', () => delivered() === 20, 60_000);
  assert.equal(segmentBytes(join(state, 'spool')), 0,
    'nothing was written: the events went out from memory');

  // Space comes back: the spool takes over by itself (the next events are written) and says so.
  rmSync(filler);
  rmSync(`${filler}.tail`);
  const more = await listeners(5);
  t.after(() => { more.py.kill('SIGKILL'); });
  await waitFor('spool_resumed', () => action('spool_resumed').length === 1, 60_000);
  agent.proc.kill('SIGTERM');
  assert.equal(await agent.exit, 0, `${agent.stderr()}\n${readFileSync(log, 'utf8').slice(-2500)}`);
});

test('run: EIO on every write under state_dir (ext4 shut down): events go out from memory, spool_degraded in-band, exit 0', async (t) => {
  const { state, events, log, config } = setUp(t, 'pw-eio-', (st, dir) => { mountExt4(join(dir, 'ext4.img'), st); });
  const agent = run(config);
  t.after(() => { agent.proc.kill('SIGKILL'); });
  const action = (a: string): EcsDocument[] => readNdjson(events).filter((d) => d.event.action === a);
  await waitFor('started', () => action('started').length === 1, 60_000);
  // Every write and open under the mount fails with EIO from now on.
  shutdownExt4(state);
  const { py, ports } = await listeners(20);
  t.after(() => { py.kill('SIGKILL'); });
  const delivered = (): number => new Set(action('listening_started').map((d) => getField(d, 'destination.port')).filter((p) => ports.includes(p as number))).size;
  await waitFor('20 new listeners delivered while every write fails', () => delivered() === 20, 60_000);
  await waitFor('spool_degraded', () => action('spool_degraded').length === 1, 30_000);
  assert.equal(getField(action('spool_degraded')[0] ?? {}, 'portwarden.spool.reason'), 'EIO');
  const t0 = Date.now();
  agent.proc.kill('SIGTERM');
  assert.equal(await agent.exit, 0, `${agent.stderr()}\n${readFileSync(log, 'utf8').slice(-2500)}`);
  t.diagnostic(`stopped in ${Date.now() - t0} ms with every write failing`);
  assert.ok(action('stopped').length === 1, 'the stopped event went out from memory too');
});
