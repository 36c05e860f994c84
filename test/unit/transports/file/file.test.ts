import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileTransport } from '../../../../transports/file/index.js';
import { sampleDocuments } from '../../../../agent/ecs/samples.js';
import { silentLogger } from '../../../../agent/log/logger.js';

const ctx = { name: 'file', logger: silentLogger, stateDir: '/tmp', configFile: 'x.yaml', agentPid: 1, hostName: 'h' };

test('file output appends NDJSON and rotates by size, keeping max_files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-file-'));
  const path = join(dir, 'sub', 'events.ndjson');
  const t = fileTransport.create(fileTransport.configSchema.parse({ type: 'file', path, max_bytes: 4000, max_files: 2 }), ctx);
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
  const t = fileTransport.create(fileTransport.configSchema.parse({ type: 'file', path: '/proc/version/events.ndjson' }), ctx);
  const doc = sampleDocuments()[0];
  assert.ok(doc);
  const r = await t.send([{ doc, json: JSON.stringify(doc) }], new AbortController().signal);
  assert.equal(r.kind, 'retryable');
  await t.shutdown();
});
