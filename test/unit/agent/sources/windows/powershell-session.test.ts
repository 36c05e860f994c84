import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRequest, FrameReader, PowerShellSession } from '../../../../../agent/sources/windows/powershell-session.js';
import { PortwardenError } from '../../../../../agent/util/errors.js';

test('FrameReader: replies split on the marker across arbitrary chunk boundaries, CRLF and prompts tolerated', () => {
  const r = new FrameReader('M-1');
  const stream = '{"a":1}\nM-1:END\n\r\nM-1:END\r\nPS C:\\> \r\nM-1:BEGIN\r\nline1\nline2\nM-1:END\n';
  const out: string[] = [];
  for (let i = 0; i < stream.length; i += 3) out.push(...r.push(stream.slice(i, i + 3)));
  assert.deepEqual(out, ['{"a":1}', '', 'line1\nline2']);
});

test('encodeRequest: the script travels base64-encoded on one line, never spliced into command text', () => {
  const script = "Write-Output 'x'; $(rm -r C:\\) \n second line";
  const line = encodeRequest(script, 'END-2');
  assert.equal(line.split('\n').length, 2, 'one line plus its newline');
  assert.ok(!line.includes('rm -r'));
  assert.ok(line.includes(Buffer.from(script, 'utf8').toString('base64')));
  assert.ok(line.includes('END-2'));
  assert.ok(line.includes('FromBase64String(\'') && line.includes("')))"), 'the base64 literal is closed before the parentheses');
  assert.ok(line.includes('END-2:BEGIN'), 'replies open with a BEGIN line');
});

/**
 * A stand-in for powershell.exe (this runs on Linux): reads request lines, decodes the script and
 * answers with the same framing. Scripts: `hang` never answers, `fail` throws, `die` exits.
 */
const FAKE = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const b64 = /'([A-Za-z0-9+/=]*)'/.exec(line)[1];
  const marker = /(PORTWARDEN-REPLY-[0-9a-f-]+)/.exec(line)[1];
  const script = Buffer.from(b64, 'base64').toString('utf8');
  if (script === 'hang') return;
  if (script === 'die') process.exit(3);
  const body = script === 'fail' ? 'PORTWARDEN-ERROR: Access is denied' : 'pid=' + process.pid + ' echo:' + script;
  // Like a host that prints a prompt before each command's output.
  process.stdout.write('PS C:\\\\Windows\\\\system32> \\n' + marker + ':BEGIN\\n' + body + '\\n' + marker + ':END\\n');
});
`;

function fakeShell(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ps-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const file = join(dir, 'fake-powershell.cjs');
  writeFileSync(file, FAKE);
  return { command: process.execPath, args: [file] };
}

test('PowerShellSession: one process for many requests, answered in order, errors become rejections', async (t) => {
  const ps = new PowerShellSession(fakeShell(t));
  t.after(() => ps.close());
  const [a, b] = await Promise.all([ps.run('first', 10_000), ps.run('second', 10_000)]);
  assert.match(a, /echo:first$/);
  assert.match(b, /echo:second$/);
  assert.equal(/pid=(\d+)/.exec(a)?.[1], /pid=(\d+)/.exec(b)?.[1], 'the same persistent process');
  await assert.rejects(ps.run('fail', 10_000), (err: unknown) => err instanceof PortwardenError && err.code === 'POWERSHELL_FAILED' && err.message === 'Access is denied');
  assert.match(await ps.run('after', 10_000), /echo:after$/);
});

test('PowerShellSession: a hung request times out, the process is replaced, a crash is reported', async (t) => {
  const ps = new PowerShellSession(fakeShell(t));
  t.after(() => ps.close());
  const first = await ps.run('one', 10_000);
  await assert.rejects(ps.run('hang', 300), /timed out after 300 ms/);
  const second = await ps.run('two', 10_000);
  assert.notEqual(/pid=(\d+)/.exec(first)?.[1], /pid=(\d+)/.exec(second)?.[1], 'a fresh process after the timeout');
  await assert.rejects(ps.run('die', 10_000), /PowerShell exited \(code 3/);
  assert.match(await ps.run('three', 10_000), /echo:three$/);
});

test('PowerShellSession: close rejects queued work, ends the process and is idempotent', async (t) => {
  const ps = new PowerShellSession(fakeShell(t));
  await ps.run('warm', 10_000);
  const pending = assert.rejects(ps.run('hang', 60_000), /closed/);
  await ps.close();
  await ps.close();
  await pending;
  await assert.rejects(ps.run('late', 1000), /closed/);
});
