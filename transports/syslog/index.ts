import type { TransportFactory } from '../types.js';
import { syslogConfigSchema } from './config.js';
import { createSyslogTransport } from './transport.js';

export { SyslogTransport } from './transport.js';

export const syslogTransport: TransportFactory<typeof syslogConfigSchema> = {
  type: 'syslog',
  configSchema: syslogConfigSchema,
  summary: 'syslog to a relay or SIEM: RFC 5424 / RFC 3164 / CEF / LEEF over UDP, TCP or TLS',
  create: createSyslogTransport,
};
