import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyId, signEnvelope, verifyEnvelope } from '../../../../agent/policy/envelope.js';
import { readPrivateKey, readPublicKeys, writeKeyPair } from '../../../../agent/policy/keys.js';
import { PortwardenError } from '../../../../agent/util/errors.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-policy-keys-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  return dir;
}

const payload = Buffer.from(JSON.stringify({ version: 'v', created: '2026-12-07T00:00:00Z' }));

test('writeKeyPair creates the private key 0600 and refuses to overwrite it without force', (t) => {
  const dir = tmp(t);
  const id = writeKeyPair(join(dir, 'k.key'), join(dir, 'k.pub'), false);
  assert.equal(statSync(join(dir, 'k.key')).mode & 0o777, 0o600);
  const [pub] = readPublicKeys(join(dir, 'k.pub'));
  assert.ok(pub);
  assert.equal(keyId(pub), id);
  const before = readFileSync(join(dir, 'k.key'), 'utf8');
  assert.throws(() => writeKeyPair(join(dir, 'k.key'), join(dir, 'k.pub'), false), /exists; choose another name or pass --force/);
  assert.equal(readFileSync(join(dir, 'k.key'), 'utf8'), before);
  const replaced = writeKeyPair(join(dir, 'k.key'), join(dir, 'k.pub'), true);
  assert.notEqual(replaced, id);
  assert.equal(statSync(join(dir, 'k.key')).mode & 0o777, 0o600);
});

test('a private key others can read is refused, and the message never quotes the key', (t) => {
  const dir = tmp(t);
  writeKeyPair(join(dir, 'k.key'), join(dir, 'k.pub'), false);
  chmodSync(join(dir, 'k.key'), 0o644);
  const pem = readFileSync(join(dir, 'k.key'), 'utf8');
  const body = pem.split('\n')[1] ?? 'x';
  assert.throws(() => readPrivateKey(join(dir, 'k.key')), (err: Error) => err instanceof PortwardenError && err.code === 'POLICY_KEY'
    && /must be 0600 \(chmod 600/.test(err.message) && !err.message.includes(body));
});

test('keys made by openssl genpkey sign and verify; a public key file may hold several keys', (t) => {
  const dir = tmp(t);
  for (const n of ['a', 'b']) {
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, `${n}.key`)]);
    chmodSync(join(dir, `${n}.key`), 0o600);
    execFileSync('openssl', ['pkey', '-in', join(dir, `${n}.key`), '-pubout', '-out', join(dir, `${n}.pub`)]);
  }
  writeFileSync(join(dir, 'both.pub'), readFileSync(join(dir, 'a.pub'), 'utf8') + readFileSync(join(dir, 'b.pub'), 'utf8'));
  const trusted = readPublicKeys(join(dir, 'both.pub'));
  assert.equal(trusted.length, 2);
  assert.equal(verifyEnvelope(signEnvelope(payload, [readPrivateKey(join(dir, 'b.key'))]), trusted).kind, 'verified');
  assert.equal(verifyEnvelope(signEnvelope(payload, [readPrivateKey(join(dir, 'b.key'))]), readPublicKeys(join(dir, 'a.pub'))).kind, 'refused');
});

test('a public key file without a key, or with an RSA key, is refused by name', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'empty.pub'), 'nothing here\n');
  assert.throws(() => readPublicKeys(join(dir, 'empty.pub')), /holds no PEM public key/);
  execFileSync('openssl', ['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'rsa.key')]);
  execFileSync('openssl', ['pkey', '-in', join(dir, 'rsa.key'), '-pubout', '-out', join(dir, 'rsa.pub')]);
  assert.throws(() => readPublicKeys(join(dir, 'rsa.pub')), /public key 1 is rsa, expected ed25519/);
  assert.throws(() => readPublicKeys(join(dir, 'missing.pub')), /cannot read the public key file/);
});
