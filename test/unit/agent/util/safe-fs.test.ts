import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetter } from '../../../../agent/pipeline/dead-letter.js';
import { SafeLogFile } from '../../../../agent/log/log-file.js';
import { openAppendSync } from '../../../../agent/util/safe-fs.js';
import type { OutboundEvent } from '../../../../transports/types.js';

const mode = (p: string): string => (lstatSync(p).mode & 0o777).toString(8);
const fresh = (): string => mkdtempSync(join(tmpdir(), 'pw-safe-'));
const item = { event: { json: '{"a":1}' } as OutboundEvent, reason: 'rejected' };

test('dead-letter file: created 0600 (an older 0644 one is narrowed); a planted symlink or hard link is refused and its target untouched', async () => {
  const dir = fresh();
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const dl = join(dir, 'dl');
  await new DeadLetter(dl, 'es', () => 0, false).write('es', [item]);
  assert.equal(mode(join(dl, 'es.ndjson')), '600');
  assert.equal(mode(dl), '700');
  writeFileSync(join(dl, 'old.ndjson'), '', { mode: 0o644 });
  await new DeadLetter(dl, 'old', () => 0, false).write('old', [item]);
  assert.equal(mode(join(dl, 'old.ndjson')), '600');

  symlinkSync(victim, join(dl, 'sym.ndjson'));
  await assert.rejects(new DeadLetter(dl, 'sym', () => 0, false).write('sym', [item]), { code: 'ELOOP' });
  linkSync(victim, join(dl, 'hard.ndjson'));
  await assert.rejects(new DeadLetter(dl, 'hard', () => 0, false).write('hard', [item]), /2 hard links/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('a FIFO planted where a file is appended is refused at once, not waited on', () => {
  const fifo = join(fresh(), 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => openAppendSync(fifo), { code: 'ENXIO' });
});

test('log file: 0640, rotated to path.1 ... path.<keep>; a symlink planted at a rotated name is moved, never written through', async () => {
  const dir = fresh();
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  const path = join(dir, 'agent.log');
  symlinkSync(victim, `${path}.1`);
  const log = new SafeLogFile(path, 100, 2);
  for (let i = 0; i < 10; i++) log.write(`line ${i} ${'x'.repeat(30)}\n`);
  await new Promise<void>((resolve) => { log.end(resolve); });
  assert.deepEqual(readdirSync(dir).sort(), ['agent.log', 'agent.log.1', 'agent.log.2', 'victim']);
  assert.equal(mode(path), '640');
  assert.match(readFileSync(path, 'utf8'), /line 9 /);
  assert.match(readFileSync(`${path}.1`, 'utf8'), /line 7 /);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(log.failed, 0);
});
