import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { replayCommand } from '../../../../agent/cli/commands/replay.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import { getField } from '../../../../agent/ecs/document.js';
import { ecsProblems } from '../../../helpers/ecs-validate.js';

/** A Winlogbeat/Sysmon-style ECS process start (not portwarden's own dataset). */
function sysmonStart(guid: string, parentGuid: string, image: string, cmd: string, ts: string): Record<string, unknown> {
  const name = image.split('\\').pop();
  return {
    '@timestamp': ts,
    event: { id: `ev-${guid}`, kind: 'event', category: ['process'], type: ['start'], action: 'Process Create (rule: ProcessCreate)', dataset: 'windows.sysmon_operational', code: '1' },
    host: { name: 'ws01', os: { type: 'windows' } },
    process: { entity_id: guid, pid: guid.length, name, executable: image, command_line: cmd, parent: { entity_id: parentGuid } },
    user: { name: 'alice', domain: 'CORP' },
  };
}

async function replay(lines: string[], args: string[] = []): Promise<{ code: number; alerts: EcsDocument[]; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = ''; let err = '';
  stdout.on('data', (b: Buffer) => { out += b.toString(); });
  stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await replayCommand.run(['--input', '-', ...args], { stdout, stderr, stdin: Readable.from([`${lines.join('\n')}\n`]), env: {} });
  return { code, alerts: out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EcsDocument), stderr: err };
}

test('replay rebuilds lineage from entity ids and flags a web shell three levels down', async () => {
  const lines = [
    sysmonStart('{s1}', '{s0}', 'C:\\Windows\\System32\\services.exe', 'services.exe', '2026-01-05T10:00:00Z'),
    sysmonStart('{w1}', '{s1}', 'C:\\Windows\\System32\\svchost.exe', 'svchost.exe -k iissvcs', '2026-01-05T10:00:01Z'),
    sysmonStart('{w2}', '{w1}', 'C:\\Windows\\System32\\inetsrv\\w3wp.exe', 'w3wp.exe -ap DefaultAppPool', '2026-01-05T10:00:02Z'),
    sysmonStart('{c1}', '{w2}', 'C:\\Windows\\System32\\cmd.exe', 'cmd /c whoami', '2026-01-05T10:00:03Z'),
    'not json',
  ].map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
  const r = await replay(lines);
  assert.equal(r.code, 0);
  const webshell = r.alerts.find((a) => getField(a, 'rule.id') === 'pw-win-webserver-shell');
  assert.ok(webshell, `alerts: ${r.alerts.map((a) => String(getField(a, 'rule.id'))).join(', ')}`);
  assert.equal(getField(webshell, 'process.parent.name'), 'w3wp.exe');
  assert.deepEqual(getField(webshell, 'process.Ext.ancestry'), ['{w2}', '{w1}', '{s1}']);
  assert.deepEqual((getField(webshell, 'portwarden.lineage') as { name: string }[]).map((a) => a.name), ['w3wp.exe', 'svchost.exe', 'services.exe']);
  assert.equal(getField(webshell, 'portwarden.alert.trigger_event_id'), 'ev-{c1}');
  assert.equal(getField(webshell, 'host.name'), 'ws01', 'the recorded host, not the replaying one');
  assert.deepEqual(ecsProblems(webshell), []);
  assert.match(r.stderr, /5 events read \(1 not ECS\), 4 process and 0 listener events evaluated/);
});

test('replay reads a file, honours --config (disabled rules) and --os for documents without one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-replay-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const start = sysmonStart('{a}', '{p}', 'C:\\Windows\\System32\\cmd.exe', 'cmd', '2026-01-05T10:00:00Z');
  delete (start.host as { os?: unknown }).os;
  (start.process as { parent: Record<string, unknown> }).parent = { name: 'lsass.exe', entity_id: '{p}' };
  writeFileSync(join(dir, 'rec.ndjson'), `${JSON.stringify(start)}\n`);
  writeFileSync(join(dir, 'pw.yaml'), 'detect:\n  disabled_rules: [pw-win-cross-user-spawn]\n');
  const stdout = new PassThrough(); let out = '';
  stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const run = (args: string[]) => replayCommand.run(['--input', join(dir, 'rec.ndjson'), ...args], { stdout, stderr: new PassThrough(), stdin: Readable.from([]), env: {} });
  assert.equal(await run([]), 0);
  assert.equal(out, '', 'no OS: Windows rules do not apply');
  assert.equal(await run(['--os', 'windows', '--config', join(dir, 'pw.yaml')]), 0);
  assert.deepEqual(out.trim().split('\n').map((l) => getField(JSON.parse(l), 'rule.id')), ['pw-win-lsass-child']);
  writeFileSync(join(dir, 'pw.yaml'), 'detect:\n  disabled_rules: [pw-win-lsass-child]\n');
  out = '';
  assert.equal(await run(['--os', 'windows', '--config', join(dir, 'pw.yaml')]), 0);
  assert.equal(out, '');
  await assert.rejects(run(['--os', 'solaris']), /--os expects linux, windows or macos/);
});
