import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getField } from '../../../agent/ecs/document.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { decodeFrame } from '../../../agent/pipeline/spool/frame.js';
import { readNdjson } from '../../helpers/agent-process.js';
import { fill, mountTmpfs, unmount } from '../../helpers/disk.js';
import { waitFor } from '../../helpers/wait.js';
import { cliPath } from '../../../testkit/paths.js';

const listen = (n: number): string => `import socket,sys\nss=[socket.socket() for _ in range(${n})]\nfor s in ss:\n  s.bind(("127.0.0.1",0))\n  s.listen()\nprint(" ".join(str(s.getsockname()[1]) for s in ss),flush=True)\nsys.stdin.read()`;

function run(config: string): { proc: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  return { proc, exit: new Promise((resolve) => proc.once('exit', resolve)), stderr: () => err };
}

/** The frames of a segment file: offset, length and payload text. */
function frames(path: string): { offset: number; bytes: number; text: string }[] {
  const buf = readFileSync(path);
  const out: { offset: number; bytes: number; text: string }[] = [];
  for (let off = 0; off < buf.length;) {
    const r = decodeFrame(buf, off);
    if (r.kind !== 'frame') break;
    out.push({ offset: off, bytes: r.frame.bytes, text: r.frame.payload.toString('utf8') });
    off += r.frame.bytes;
  }
  return out;
}

test('run: a damaged spool segment found at start on a full disk: the agent starts, delivers its good events, reports the damage in-band', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-dmg-'));
  const state = join(dir, 'state');
  mountTmpfs(state, '4m', '0700');
  t.after(() => { unmount(state); rmSync(dir, { recursive: true, force: true }); });
  // The output cannot write at first (its path is a directory): what the agent accepts stays queued.
  const events = join(dir, 'events.ndjson');
  mkdirSync(events);
  const log = join(dir, 'agent.log');
  const config = join(dir, 'portwarden.yaml');
  writeFileSync(config, `state_dir: ${state}\ninterval: 250ms\nlog: { level: info, file: ${log} }\ndetect: { enabled: false }\n`
    + `outputs:\n  - type: file\n    path: ${events}\n    batch: { max_wait: 100ms }\n    retry: { initial: 100ms, max: 1s }\n`);
  const first = run(config);
  t.after(() => { first.proc.kill('SIGKILL'); });
  const py = spawn('python3', ['-c', listen(20)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { py.kill('SIGKILL'); });
  const ports = await new Promise<number[]>((resolve) => { py.stdout.once('data', (b: Buffer) => { resolve(b.toString().trim().split(' ').map(Number)); }); });
  const spool = join(state, 'spool');
  const segs = (): string[] => { try { return readdirSync(spool).filter((n) => n.endsWith('.seg')).sort().map((n) => join(spool, n)); } catch { return []; } };
  const inSpool = (p: number): boolean => segs().some((s) => frames(s).some((f) => /"listening_(started|existing)"/.test(f.text) && f.text.includes(`"port":${p}`)));
  await waitFor('the 20 listeners accepted into the spool', () => ports.every(inSpool) || undefined, 30_000);
  // A crash: the last segment ends in a torn frame, and one frame inside it has a flipped byte.
  first.proc.kill('SIGKILL');
  await first.exit;
  py.kill('SIGKILL');
  const seg = segs().find((s) => frames(s).some((f) => f.text.includes(`"port":${ports[5]}`))) ?? '';
  const victim = frames(seg).find((f) => f.text.includes(`"port":${ports[5]}`));
  assert.ok(victim);
  const buf = readFileSync(seg);
  buf[victim.offset + victim.bytes - 3] = (buf[victim.offset + victim.bytes - 3] ?? 0) ^ 0xff;
  writeFileSync(seg, buf);
  const lastFrame = frames(segs().at(-1) ?? '').at(-1);
  assert.ok(lastFrame);
  appendFileSync(segs().at(-1) ?? '', readFileSync(segs().at(-1) ?? '').subarray(lastFrame.offset, lastFrame.offset + (lastFrame.bytes >> 1)));

  // Full to the last byte; the output can write again.
  const filler = join(state, 'filler');
  fill(filler, true);
  rmSync(events, { recursive: true });
  const again = run(config);
  t.after(() => { again.proc.kill('SIGKILL'); });
  const action = (a: string): EcsDocument[] => readNdjson(events).filter((d) => d.event.action === a);
  // listening_existing when the first inventory ran after python bound its sockets.
  const delivered = (): Set<unknown> => new Set([...action('listening_started'), ...action('listening_existing')].map((d) => getField(d, 'destination.port')));
  await waitFor('the good events of the damaged segment delivered', () => ports.filter((p) => p !== ports[5]).every((p) => delivered().has(p)) || undefined, 60_000);
  assert.ok(!delivered().has(ports[5]), 'the damaged frame is never sent');
  const report = await waitFor('events_lost in-band', () => action('events_lost')[0], 30_000);
  assert.equal(getField(report, 'portwarden.pipeline.lost'), 1);
  assert.deepEqual(getField(report, 'portwarden.pipeline.unrepaired_segments'), [seg.slice(spool.length + 1)]);
  assert.ok(readFileSync(log, 'utf8').includes('damaged spool segment cannot be repaired yet'), 'a warning in the agent log');
  assert.ok(!readdirSync(state).some((n) => n.startsWith('spool.damaged')), 'the spool was not moved aside');
  await waitFor('started', () => action('started').length > 0 || undefined, 30_000);

  // Space returns: a new listener is spooled and delivered, a degraded spool (new events had no
  // room) says it is durable again, and the agent stops cleanly.
  rmSync(filler);
  rmSync(`${filler}.tail`, { force: true });
  const late = spawn('python3', ['-c', listen(1)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { late.kill('SIGKILL'); });
  const latePort = await new Promise<number>((resolve) => { late.stdout.once('data', (b: Buffer) => { resolve(Number(b.toString().trim())); }); });
  await waitFor('a listener opened after space returned delivered', () => delivered().has(latePort) || undefined, 60_000);
  if (action('spool_degraded').length > 0) await waitFor('spool_resumed', () => action('spool_resumed').length > 0 || undefined, 60_000);
  t.diagnostic(`degraded while the disk was full: ${action('spool_degraded').length > 0}`);
  again.proc.kill('SIGTERM');
  assert.equal(await again.exit, 0, `${again.stderr()}\n${readFileSync(log, 'utf8').slice(-2500)}`);
});
