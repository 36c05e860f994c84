import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFile, policyDir, readLastGood, readPolicyState, saveLastGood, stateFile } from '../../../../agent/policy/store.js';

function stateDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-store-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  return dir;
}

const state = { version: 'v1', created: '2026-12-07T01:00:00Z', keyId: 'sha256:ab', appliedAt: '2026-12-07T01:00:05Z', source: 'https://policy.example/p.json' };

test('policy store: what was saved reads back; nothing saved reads as undefined', async (t) => {
  const dir = stateDir(t);
  assert.equal(readLastGood(dir, 1024), undefined);
  assert.equal(readPolicyState(dir), undefined);
  await saveLastGood(dir, Buffer.from('{"envelope":1}'), state);
  assert.deepEqual(readLastGood(dir, 1024), Buffer.from('{"envelope":1}'));
  assert.deepEqual(readPolicyState(dir), state);
  writeFileSync(stateFile(dir), '{ not json');
  assert.equal(readPolicyState(dir), undefined, 'a damaged state is taken from the bundle');
});

test('policy store: a bundle over policy.max_bytes, a huge state file and a FIFO are refused with the file, its size and the cap', (t) => {
  const dir = stateDir(t);
  mkdirSync(policyDir(dir), { recursive: true });
  writeFileSync(bundleFile(dir), Buffer.alloc(2048, 0x20));
  assert.throws(() => readLastGood(dir, 1024), { message: `${bundleFile(dir)} is 2,048 bytes, larger than 1 KiB, the most such a file may hold` });
  assert.equal(readLastGood(dir, 2048)?.length, 2048, 'at the cap it is read');
  writeFileSync(stateFile(dir), `{"version":"v1","created":"x","pad":"${'x'.repeat(70_000)}"}`);
  assert.throws(() => readPolicyState(dir), { message: new RegExp(`^${stateFile(dir)} is 70,\\d{3} bytes, larger than 64 KiB`) });
  // A FIFO planted in place of the bundle is refused at once, not read (which would wait forever for a writer).
  rmSync(bundleFile(dir));
  execFileSync('mkfifo', [bundleFile(dir)]);
  assert.throws(() => readLastGood(dir, 1024), { message: `${bundleFile(dir)} is not a regular file (a device, FIFO or socket)` });
});
