/**
 * The signed policy bundle on the wire: one JSON file, a DSSE envelope (the in-toto / Sigstore "Dead
 * Simple Signing Envelope") whose payload is the bundle's JSON bytes and whose signatures are Ed25519
 * over DSSE's pre-authentication encoding of (payload type, payload).
 *
 * Why an envelope and not a detached `.sig` file: one object to fetch, cache and replace, so a web
 * server or a CDN can never hand out a new bundle with an old signature (two objects are never
 * updated atomically); one ETag; the signed bytes are exactly the payload bytes, so no JSON
 * canonicalisation is needed; and several signatures fit, which is how keys are rotated (sign with
 * the old and the new key while the fleet moves over). The payload type is signed too, so a
 * signature made for something else with the same key never verifies as a policy.
 *
 * This module is what the running agent keeps: node:crypto and hand-written checks, no zod.
 */
import { createHash, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { errorMessage } from '../util/errors.js';

export const PAYLOAD_TYPE = 'application/vnd.portwarden.policy+json';

/** The DSSE envelope as stored and served. */
export interface Envelope {
  payloadType: string;
  /** Base64 of the bundle's JSON bytes. */
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** What the agent reads from a verified payload before validating the rest (in the start-up worker). */
export interface BundleHeader {
  version: string;
  /** ISO 8601; a bundle older than the one applied is refused (rollback). */
  created: string;
}

export type Verification =
  | { kind: 'verified'; payload: Buffer; header: BundleHeader; keyId: string }
  | { kind: 'refused'; reason: string };

/** DSSE v1 pre-authentication encoding: what is actually signed. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** A short, stable name of a public key: `sha256:` and the first 16 bytes of the hash of its SPKI DER. */
export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
}

/** Signs payload bytes with one or more Ed25519 private keys; the envelope's JSON bytes. */
export function signEnvelope(payload: Buffer, keys: readonly { privateKey: KeyObject; publicKey: KeyObject }[]): Buffer {
  const msg = pae(PAYLOAD_TYPE, payload);
  const env: Envelope = {
    payloadType: PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: keys.map((k) => ({ keyid: keyId(k.publicKey), sig: sign(null, msg, k.privateKey).toString('base64') })),
  };
  return Buffer.from(`${JSON.stringify(env, null, 1)}\n`);
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

function base64(text: unknown): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  if (B64.test(text)) return Buffer.from(text, 'base64');
  if (B64URL.test(text)) return Buffer.from(text, 'base64url');
  return undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The envelope's parts, or why the bytes are not one. */
function parseEnvelope(bytes: Buffer): { payload: Buffer; sigs: { keyid: string; sig: Buffer }[] } | string {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return `not JSON (${errorMessage(err)})`;
  }
  if (!isRecord(raw) || raw.payloadType !== PAYLOAD_TYPE) {
    return `not a portwarden policy envelope (expected payloadType ${PAYLOAD_TYPE}, got ${isRecord(raw) ? JSON.stringify(raw.payloadType) : 'no object'})`;
  }
  const payload = base64(raw.payload);
  if (payload === undefined) return 'payload is not base64';
  if (!Array.isArray(raw.signatures) || raw.signatures.length === 0) return 'no signatures';
  const sigs: { keyid: string; sig: Buffer }[] = [];
  for (const s of raw.signatures as unknown[]) {
    const sig = isRecord(s) ? base64(s.sig) : undefined;
    if (!isRecord(s) || sig === undefined) return 'a signature is not {keyid, sig: base64}';
    sigs.push({ keyid: typeof s.keyid === 'string' ? s.keyid : '', sig });
  }
  return { payload, sigs };
}

/** version and created of a verified payload, or why they are unusable. */
function header(payload: Buffer): BundleHeader | string {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return `the signed payload is not JSON (${errorMessage(err)})`;
  }
  if (!isRecord(raw)) return 'the signed payload is not a JSON object';
  const { version, created } = raw;
  if (typeof version !== 'string' || version === '' || version.length > 128) return 'the bundle has no version (a string of 1 to 128 characters)';
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) return 'the bundle has no created time (ISO 8601)';
  return { version, created };
}

function verifies(msg: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

/**
 * Checks an envelope against the pinned public keys: at least one signature must verify with one of
 * them. Never throws; anything wrong is a refusal with a reason fit for a log line and an event.
 */
export function verifyEnvelope(bytes: Buffer, trusted: readonly KeyObject[]): Verification {
  const env = parseEnvelope(bytes);
  if (typeof env === 'string') return { kind: 'refused', reason: env };
  const msg = pae(PAYLOAD_TYPE, env.payload);
  for (const key of trusted) {
    for (const s of env.sigs) {
      if (!verifies(msg, key, s.sig)) continue;
      const h = header(env.payload);
      if (typeof h === 'string') return { kind: 'refused', reason: h };
      return { kind: 'verified', payload: env.payload, header: h, keyId: keyId(key) };
    }
  }
  // The keyids are not signed: they only help the message.
  const pinned = new Set(trusted.map(keyId));
  const named = env.sigs.map((s) => s.keyid).filter((k) => k !== '');
  const known = named.filter((k) => pinned.has(k));
  const reason = known.length > 0
    ? `signature by pinned key ${known.join(', ')} does not match the payload (tampered or corrupted)`
    : `no signature by a pinned key (signed by ${named.length > 0 ? named.join(', ') : 'unnamed keys'}; pinned: ${[...pinned].join(', ')})`;
  return { kind: 'refused', reason };
}
