import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { baselineCommand } from '../../../../agent/cli/commands/baseline.js';
import { Baseline } from '../../../../agent/detect/baseline.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import { UsageError } from '../../../../agent/util/errors.js';

function io() {
  const stdout = new PassThrough(); const stderr = new PassThrough();
  let out = ''; let err = '';
  stdout.on('data', (b: Buffer) => { out += b.toString(); });
  stderr.on('data', (b: Buffer) => { err += b.toString(); });
  return { io: { stdout, stderr, stdin: Readable.from([]), env: {} }, out: () => out, err: () => err };
}

test('baseline export writes the learned baseline; import on another host makes its entries known there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bl-cmd-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const golden = join(dir, 'golden'); const fresh = join(dir, 'fresh');
  writeFileSync(join(dir, 'golden.yaml'), `state_dir: ${golden}\n`);
  writeFileSync(join(dir, 'fresh.yaml'), `state_dir: ${fresh}\n`);
  // The golden host learned something (as the agent would have, in <state_dir>/baseline.json).
  const b = new Baseline({ file: join(golden, 'baseline.json'), learningMs: 1000, maxEntries: 100, logger: silentLogger });
  b.observe('golden-id', 'listeners', '/usr/sbin/nginx|tcp/443|any', Date.now());
  b.observe('golden-id', 'pairs', 'nginx>nginx', Date.now());
  b.save();

  const exp = io();
  assert.equal(await baselineCommand.run(['export', join(dir, 'export.json'), '--config', join(dir, 'golden.yaml')], exp.io), 0);
  const exported = JSON.parse(readFileSync(join(dir, 'export.json'), 'utf8')) as { hosts: Record<string, { listeners: Record<string, string> }> };
  assert.deepEqual(Object.keys(exported.hosts['golden-id']?.listeners ?? {}), ['/usr/sbin/nginx|tcp/443|any']);

  const imp = io();
  assert.equal(await baselineCommand.run(['import', join(dir, 'export.json'), '--config', join(dir, 'fresh.yaml')], imp.io), 0);
  assert.match(imp.out(), /imported 2 new entries/);
  const local = new Baseline({ file: join(fresh, 'baseline.json'), learningMs: 0, maxEntries: 100, logger: silentLogger });
  assert.equal(local.observe('another-host', 'listeners', '/usr/sbin/nginx|tcp/443|any', Date.now()), 'known');
  assert.equal(local.observe('another-host', 'listeners', '/usr/sbin/nginx|tcp/8443|any', Date.now()), 'new');
  const again = io();
  await baselineCommand.run(['import', join(dir, 'export.json'), '--config', join(dir, 'fresh.yaml')], again.io);
  assert.match(again.out(), /imported 0 new entries/, 'importing twice adds nothing');
});

test('baseline usage and bad input', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bl-cmd-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeFileSync(join(dir, 'pw.yaml'), `state_dir: ${join(dir, 's')}\n`);
  writeFileSync(join(dir, 'junk.json'), '{"version":7}');
  await assert.rejects(baselineCommand.run(['merge', 'x'], io().io), UsageError);
  await assert.rejects(baselineCommand.run(['import', join(dir, 'junk.json'), '--config', join(dir, 'pw.yaml')], io().io), /not a portwarden baseline/);
  await assert.rejects(baselineCommand.run(['import', join(dir, 'missing.json'), '--config', join(dir, 'pw.yaml')], io().io), /cannot read/);
});
