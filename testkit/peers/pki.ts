import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of a throw-away test PKI made with openssl: a CA, a server and a client, and an unrelated CA. */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting only it must fail verification. */
  otherCa: string;
  dispose(): Promise<void>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function selfSignedCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=portwarden test ${name}`]);
  return { cert, key };
}

async function issue(dir: string, ca: { cert: string; key: string }, name: string, cn: string, ext: string): Promise<void> {
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, `${ext}\n`);
  await run('openssl', ['req', ...EC, '-keyout', join(dir, `${name}.key`), '-out', csr, '-subj', `/CN=${cn}`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', join(dir, `${name}.pem`), '-days', '2', '-extfile', extFile]);
}

/** Makes the PKI in a fresh temp directory (about a second). */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-pki-'));
  const ca = await selfSignedCa(dir, 'ca');
  const other = await selfSignedCa(dir, 'other-ca');
  await issue(dir, ca, 'server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  await issue(dir, ca, 'client', 'portwarden-agent', 'extendedKeyUsage=clientAuth');
  return {
    dir, ca: ca.cert, otherCa: other.cert,
    serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
