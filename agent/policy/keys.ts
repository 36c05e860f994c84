/**
 * Ed25519 key files of the policy: PEM (PKCS#8 private, SPKI public), as `openssl genpkey -algorithm
 * ed25519` writes them too. A private key file is created 0600 and never overwritten in place; its
 * content is never logged or put in an error message.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { PortwardenError, errorMessage } from '../util/errors.js';
import { readRegularFileSync } from '../util/safe-fs.js';
import { keyId } from './envelope.js';

const PUBLIC_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

function keyError(message: string, cause?: unknown): PortwardenError {
  return new PortwardenError('POLICY_KEY', message, { cause });
}

function readText(file: string, what: string): string {
  try {
    return readRegularFileSync(file).toString('utf8');
  } catch (err) {
    throw keyError(`cannot read the ${what} ${file}: ${errorMessage(err)}`, err);
  }
}

/**
 * The Ed25519 public keys of a PEM file; a file may hold several (`-----BEGIN PUBLIC KEY-----`
 * blocks), all trusted: that is how a key rotation is rolled out.
 */
export function readPublicKeys(file: string): KeyObject[] {
  const text = readText(file, 'public key file');
  const blocks = text.match(PUBLIC_BLOCK) ?? [];
  if (blocks.length === 0) throw keyError(`${file} holds no PEM public key (-----BEGIN PUBLIC KEY-----)`);
  return blocks.map((pem, i) => {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw keyError(`${file}: public key ${i + 1} is not a valid PEM public key (${errorMessage(err)})`, err);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw keyError(`${file}: public key ${i + 1} is ${key.asymmetricKeyType ?? 'not asymmetric'}, expected ed25519`);
    return key;
  });
}

/**
 * A signing key and its public half. Refuses a key file that others can read (as ssh does): a
 * policy key signs what every agent of the fleet runs.
 */
export function readPrivateKey(file: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const text = readText(file, 'private key file');
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
    throw keyError(`${file} can be read by other users; a policy signing key must be 0600 (chmod 600 ${file})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch (err) {
    // The message of a failed parse does not quote the key.
    throw keyError(`${file} is not a PEM private key (${errorMessage(err)})`, err);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw keyError(`${file} is a ${privateKey.asymmetricKeyType ?? 'non-asymmetric'} key, expected ed25519`);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/**
 * Writes a new key pair: the private key created 0600 with O_EXCL (a file already there is an
 * error unless `force`, which removes it first), the public key 0644. Returns the key id.
 */
export function writeKeyPair(privateFile: string, publicFile: string, force: boolean): string {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  for (const f of [privateFile, publicFile]) {
    if (force) {
      try {
        unlinkSync(f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw keyError(`cannot replace ${f}: ${errorMessage(err)}`, err);
      }
    }
  }
  const write = (file: string, pem: string, mode: number): void => {
    try {
      writeFileSync(file, pem, { mode, flag: 'wx' });
    } catch (err) {
      const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
      throw keyError(exists ? `${file} exists; choose another name or pass --force to replace it` : `cannot write ${file}: ${errorMessage(err)}`, err);
    }
  };
  write(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  write(publicFile, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  return keyId(publicKey);
}
