import type { TransportFactory } from '../types.js';
import { stdoutConfigSchema } from './config.js';
import { createStdoutTransport } from './transport.js';

export const stdoutTransport: TransportFactory<typeof stdoutConfigSchema> = {
  type: 'stdout',
  configSchema: stdoutConfigSchema,
  summary: 'print events on standard output (NDJSON, or one readable line per event on a TTY)',
  create: createStdoutTransport,
};
