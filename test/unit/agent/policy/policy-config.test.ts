import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { checkConfigCommand } from '../../../../agent/cli/commands/check-config.js';
import { preflight } from '../../../../agent/app/preflight.js';
import { writeKeyPair } from '../../../../agent/policy/keys.js';

function check(t: { after: (fn: () => void) => void }, policyYaml: string, setup: (dir: string) => void = () => undefined): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-cfg-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  setup(dir);
  writeFileSync(join(dir, 'portwarden.yaml'), `state_dir: ${join(dir, 'state')}\n${policyYaml}`);
  const r = preflight(join(dir, 'portwarden.yaml'), {});
  return r.kind === 'ok' ? [] : r.problems.map((p) => `${p.keyPath}: ${p.expected}`);
}

test('a policy section with an https URL and an Ed25519 public key (relative to the config file) is valid, with its defaults', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-cfg-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeKeyPair(join(dir, 'fleet.key'), join(dir, 'fleet.pub'), false);
  writeFileSync(join(dir, 'portwarden.yaml'), `state_dir: ${join(dir, 'state')}\npolicy: { url: "https://policy.example.org/p.json", public_key: fleet.pub }\n`);
  const r = preflight(join(dir, 'portwarden.yaml'), {});
  assert.ok(r.kind === 'ok', r.kind === 'invalid' ? r.problems.map((p) => p.message).join('\n') : '');
  assert.deepEqual(r.loaded.config.policy, {
    url: 'https://policy.example.org/p.json', public_key: ['fleet.pub'], interval: 300_000, timeout: 30_000, max_bytes: 4 * 1024 * 1024,
  });
});

test('policy config errors name the key path and what was expected', (t) => {
  const keys = (dir: string) => { writeKeyPair(join(dir, 'fleet.key'), join(dir, 'fleet.pub'), false); };
  assert.match(check(t, 'policy: { url: "http://policy.example.org/p.json", public_key: fleet.pub }\n', keys).join('\n'), /^policy\.url: an https:\/\/ URL/m);
  assert.match(check(t, 'policy: { url: "https://u:p@policy.example.org/p.json", public_key: fleet.pub }\n', keys).join('\n'), /^policy\.url: an https:\/\/ URL without user:password/m);
  assert.match(check(t, 'policy: { url: "https://policy.example.org/p.json" }\n').join('\n'), /^policy\.public_key: /m);
  assert.match(check(t, 'policy: { url: "https://policy.example.org/p.json", public_key: missing.pub }\n').join('\n'), /^policy\.public_key: a PEM file of Ed25519 public keys \(cannot read/m);
  assert.match(check(t, 'policy: { url: "https://policy.example.org/p.json", public_key: [fleet.pub, fleet.key] }\n', keys).join('\n'), /^policy\.public_key\[1\]: a PEM file of Ed25519 public keys \(.*holds no PEM public key/m);
  assert.match(check(t, 'policy: { url: "https://policy.example.org/p.json", public_key: fleet.pub, ca: fleet.pub }\n', keys).join('\n'), /^policy\.ca: a PEM certificate/m);
  assert.match(check(t, 'policy: { url: "https://policy.example.org/p.json", public_key: fleet.pub, interval: 100ms }\n', keys).join('\n'), /^policy\.interval: expected at least 1s/m);
});

test('check-config shows a pre-signed policy URL without its query string (the credential)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-cfg-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  writeKeyPair(join(dir, 'fleet.key'), join(dir, 'fleet.pub'), false);
  writeFileSync(join(dir, 'portwarden.yaml'), `state_dir: ${join(dir, 'state')}\npolicy: { url: "https://bucket.s3.example.org/p.json?X-Amz-Signature=s3cr3t", public_key: fleet.pub }\n`);
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const code = await checkConfigCommand.run(['--config', join(dir, 'portwarden.yaml')], { stdout, stderr: new PassThrough(), stdin: Readable.from([]), env: {} });
  assert.equal(code, 0);
  assert.match(out, /url: https:\/\/bucket\.s3\.example\.org\/p\.json\?\[redacted\]/);
  assert.ok(!out.includes('s3cr3t'));
});
