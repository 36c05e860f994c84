import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CentralPolicy } from '../../../../agent/app/policy.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { writeKeyPair } from '../../../../agent/policy/keys.js';
import { bundleFile, policyDir } from '../../../../agent/policy/store.js';

test('policy at start: a stored bundle over policy.max_bytes is not read; the log names the file, its size and the cap, and the agent starts without a policy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-start-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeKeyPair(join(dir, 'fleet.key'), join(dir, 'fleet.pub'), false);
  const stateDir = join(dir, 'state');
  mkdirSync(policyDir(stateDir), { recursive: true });
  writeFileSync(bundleFile(stateDir), Buffer.alloc(4096, 0x20));
  const logger = memoryLogger();
  const policy = new CentralPolicy({
    config: { url: 'https://policy.example/p.json', public_key: [join(dir, 'fleet.pub')], interval: 60_000, timeout: 5_000, max_bytes: 2048 },
    configFile: join(dir, 'portwarden.yaml'), stateDir, logger, userAgent: 'portwarden-test',
  });
  await policy.loadLastGood();
  assert.equal(policy.current(), undefined);
  assert.deepEqual(policy.status(), {});
  const warnings = logger.records.filter((r) => r.level === 'warn').map((r) => r.message);
  assert.deepEqual(warnings, [
    `policy: the last good bundle cannot be read (${bundleFile(stateDir)} is 4,096 bytes, larger than 2 KiB, the most such a file may hold); running without a policy until a fetch succeeds`,
  ]);
});
