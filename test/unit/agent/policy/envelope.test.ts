import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { PAYLOAD_TYPE, keyId, pae, signEnvelope, verifyEnvelope } from '../../../../agent/policy/envelope.js';
import type { Verification } from '../../../../agent/policy/envelope.js';

/** Why a bundle was refused; `verified` when it was not. */
const reason = (r: Verification): string => (r.kind === 'refused' ? r.reason : 'verified');

const pair = () => generateKeyPairSync('ed25519');
const payload = (over: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ format: 'portwarden-policy/1', version: 'v1', created: '2026-12-07T00:00:00.000Z', ...over }));

test('a bundle signed with the pinned key verifies and yields its exact payload, version and created time', () => {
  const k = pair();
  const p = payload();
  const res = verifyEnvelope(signEnvelope(p, [k]), [k.publicKey]);
  assert.ok(res.kind === 'verified', res.kind === 'refused' ? res.reason : '');
  assert.deepEqual(res.payload, p);
  assert.deepEqual(res.header, { version: 'v1', created: '2026-12-07T00:00:00.000Z' });
  assert.equal(res.keyId, keyId(k.publicKey));
});

test('DSSE pre-authentication encoding: the signed bytes name the payload type and both lengths', () => {
  assert.equal(pae(PAYLOAD_TYPE, Buffer.from('{}')).toString(), `DSSEv1 ${PAYLOAD_TYPE.length} ${PAYLOAD_TYPE} 2 {}`);
});

test('a payload changed after signing is refused as tampered, naming the pinned key', () => {
  const k = pair();
  const env = JSON.parse(signEnvelope(payload(), [k]).toString()) as { payload: string };
  env.payload = payload({ version: 'v1-evil' }).toString('base64');
  const res = verifyEnvelope(Buffer.from(JSON.stringify(env)), [k.publicKey]);
  assert.match(reason(res), new RegExp(`pinned key ${keyId(k.publicKey)} does not match the payload`));
});

test('a bundle signed by another key is refused, naming the signer and the pinned keys', () => {
  const pinned = pair();
  const other = pair();
  const res = verifyEnvelope(signEnvelope(payload(), [other]), [pinned.publicKey]);
  const why = reason(res);
  assert.ok(why.includes(`signed by ${keyId(other.publicKey)}`) && why.includes(`pinned: ${keyId(pinned.publicKey)}`), why);
});

test('a keyid that claims the pinned key does not help a foreign signature', () => {
  const pinned = pair();
  const other = pair();
  const env = JSON.parse(signEnvelope(payload(), [other]).toString()) as { signatures: { keyid: string }[] };
  for (const s of env.signatures) s.keyid = keyId(pinned.publicKey);
  assert.equal(verifyEnvelope(Buffer.from(JSON.stringify(env)), [pinned.publicKey]).kind, 'refused');
});

test('key rotation: a bundle signed with the old and the new key verifies on agents pinned to either', () => {
  const old = pair();
  const next = pair();
  const env = signEnvelope(payload(), [old, next]);
  assert.equal(verifyEnvelope(env, [old.publicKey]).kind, 'verified');
  assert.equal(verifyEnvelope(env, [next.publicKey]).kind, 'verified');
  assert.equal(verifyEnvelope(signEnvelope(payload(), [next]), [old.publicKey, next.publicKey]).kind, 'verified');
});

test('a signature made for another payload type with the same key never verifies as a policy', () => {
  const k = pair();
  const env = JSON.parse(signEnvelope(payload(), [k]).toString()) as { payloadType: string };
  env.payloadType = 'application/vnd.in-toto+json';
  assert.equal(verifyEnvelope(Buffer.from(JSON.stringify(env)), [k.publicKey]).kind, 'refused');
});

test('malformed envelopes are refused with a reason, never thrown', () => {
  const k = pair();
  const good = JSON.parse(signEnvelope(payload(), [k]).toString()) as Record<string, unknown>;
  const cases: [string, Buffer, RegExp][] = [
    ['not JSON', Buffer.from('<html>502</html>'), /not JSON/],
    ['empty', Buffer.alloc(0), /not JSON/],
    ['a JSON array', Buffer.from('[]'), /not a portwarden policy envelope/],
    ['no signatures', Buffer.from(JSON.stringify({ ...good, signatures: [] })), /no signatures/],
    ['payload not base64', Buffer.from(JSON.stringify({ ...good, payload: '%%%' })), /not base64/],
    ['a signature not base64', Buffer.from(JSON.stringify({ ...good, signatures: [{ keyid: 'x', sig: 7 }] })), /signature is not/],
  ];
  for (const [name, bytes, re] of cases) {
    const res = verifyEnvelope(bytes, [k.publicKey]);
    assert.match(reason(res), re, name);
  }
});

test('a validly signed payload without a version or created time is refused', () => {
  const k = pair();
  for (const [p, re] of [[payload({ version: '' }), /no version/], [payload({ created: 'yesterday' }), /no created time/], [Buffer.from('"x"'), /not a JSON object/]] as const) {
    const res = verifyEnvelope(signEnvelope(p, [k]), [k.publicKey]);
    assert.match(reason(res), re);
  }
});
