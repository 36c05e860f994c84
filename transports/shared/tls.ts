import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { TlsConfig } from '../../config/types.js';
import { PortwardenError, errorMessage } from '../../agent/util/errors.js';
import { readRegularFile } from '../../agent/util/safe-fs.js';

/**
 * node:tls client options from the shared `tls` config block: reads the CA, client certificate
 * and key files, sets SNI and the verified name, verifies by default and refuses anything older
 * than TLS 1.2. Used by every network transport (syslog, kafka, http).
 * Throws a non-retriable PortwardenError (code TLS_CONFIG) naming the file that could not be read.
 */
export async function tlsClientOptions(cfg: TlsConfig, host: string): Promise<ConnectionOptions> {
  const opts: ConnectionOptions = {
    rejectUnauthorized: cfg.reject_unauthorized,
    minVersion: 'TLSv1.2',
  };
  if (cfg.ca !== undefined) opts.ca = await readPem(cfg.ca, 'tls.ca');
  if (cfg.cert !== undefined) opts.cert = await readPem(cfg.cert, 'tls.cert');
  if (cfg.key !== undefined) opts.key = await readPem(cfg.key, 'tls.key');
  const name = cfg.server_name ?? host;
  // SNI must be a DNS name (RFC 6066); for an IP address node checks the IP SANs by itself.
  if (isIP(name) === 0) opts.servername = name;
  else opts.checkServerIdentity = (_host, cert) => checkServerIdentity(name, cert);
  return opts;
}

async function readPem(path: string, key: string): Promise<Buffer> {
  try {
    return await readRegularFile(path);
  } catch (err) {
    throw new PortwardenError('TLS_CONFIG', `${key}: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** OpenSSL/node error codes that mean "the peer's certificate is not acceptable", not "the network failed". */
const VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * A TLS failure that retrying cannot fix (untrusted or mismatched certificate, client certificate
 * refused, no common protocol version): the output should pause and alarm. Returns a sentence that
 * says what failed, or undefined for ordinary network errors.
 */
export function tlsVerifyFailure(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined || !VERIFY_CODES.has(code)) return undefined;
  if (code.startsWith('ERR_SSL_')) return `TLS handshake refused (${code}): ${err.message}`;
  return `certificate verify failed (${code}): ${err.message}`;
}
