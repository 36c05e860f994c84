import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileConfigSchema } from '../../../../transports/file/config.js';
import { createFileTransport } from '../../../../transports/file/transport.js';
import { sampleDocuments } from '../../../../agent/ecs/samples.js';


test('file output appends NDJSON and rotates by size, keeping max_files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-file-'));
  const path = join(dir, 'sub', 'events.ndjson');
  const t = createFileTransport(fileConfigSchema.parse({ type: 'file', path, max_bytes: 4000, max_files: 2 }));
  await t.start();
  const docs = sampleDocuments().map((doc) => ({ doc, json: JSON.stringify(doc) }));
  const signal = new AbortController().signal;
  for (let i = 0; i < 6; i++) assert.deepEqual(await t.send(docs.slice(0, 2), signal), { kind: 'ok' });
  await t.flush();
  await t.shutdown();
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  for (const l of lines) assert.equal((JSON.parse(l) as { event: { id: string } }).event.id.length, 36);
  assert.ok(existsSync(`${path}.1`), 'rotated once');
  assert.ok(existsSync(`${path}.2`), 'rotated twice');
  assert.ok(!existsSync(`${path}.3`), 'max_files respected');
  assert.ok(readFileSync(path).length <= 4000 || lines.length <= 2);
});

test('an unwritable path is retryable, never thrown', async () => {
  const t = createFileTransport(fileConfigSchema.parse({ type: 'file', path: '/proc/version/events.ndjson' }));
  const doc = sampleDocuments()[0];
  assert.ok(doc);
  const r = await t.send([{ doc, json: JSON.stringify(doc) }], new AbortController().signal);
  assert.equal(r.kind, 'retryable');
  await t.shutdown();
});

test('a line torn by a crash is cut off before appending, so the re-sent batch is intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-file-'));
  const path = join(dir, 'events.ndjson');
  const docs = sampleDocuments().map((doc) => ({ doc, json: JSON.stringify(doc) }));
  const [first, second] = docs;
  assert.ok(first !== undefined && second !== undefined);
  // A complete line, then half of the next one: what SIGKILL in the middle of a write leaves.
  writeFileSync(path, `${first.json}\n`);
  appendFileSync(path, second.json.slice(0, 40));
  const t = createFileTransport(fileConfigSchema.parse({ type: 'file', path }));
  await t.start();
  assert.deepEqual(await t.send([second], new AbortController().signal), { kind: 'ok' });
  await t.shutdown();
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.deepEqual(lines, [first.json, second.json, '']);
  // A file that is one torn fragment (no newline at all) becomes empty before the append.
  writeFileSync(path, 'x'.repeat(100_000));
  const t2 = createFileTransport(fileConfigSchema.parse({ type: 'file', path }));
  assert.deepEqual(await t2.send([first], new AbortController().signal), { kind: 'ok' });
  await t2.shutdown();
  assert.equal(readFileSync(path, 'utf8'), `${first.json}\n`);
});
