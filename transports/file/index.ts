import type { TransportSpec } from '../types.js';
import { fileConfigSchema } from './config.js';

/** `type: file` for validation and docs; its constructor is in transports/registry.ts. */
export const spec: TransportSpec<typeof fileConfigSchema> = {
  type: 'file',
  configSchema: fileConfigSchema,
  summary: 'append NDJSON to a local file, rotated by size',
};
