import type { TransportSpec } from '../types.js';
import { syslogConfigSchema } from './config.js';

export { SyslogTransport } from './transport.js';

/** `type: syslog` for validation and docs; its constructor is in transports/registry.ts. */
export const spec: TransportSpec<typeof syslogConfigSchema> = {
  type: 'syslog',
  configSchema: syslogConfigSchema,
  summary: 'syslog to a relay or SIEM: RFC 5424 / RFC 3164 / CEF / LEEF over UDP, TCP or TLS',
};
