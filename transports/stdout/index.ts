import type { TransportSpec } from '../types.js';
import { stdoutConfigSchema } from './config.js';

/** `type: stdout` for validation and docs; its constructor is in transports/registry.ts. */
export const spec: TransportSpec<typeof stdoutConfigSchema> = {
  type: 'stdout',
  configSchema: stdoutConfigSchema,
  summary: 'print events on standard output (NDJSON, or one readable line per event on a TTY)',
};
