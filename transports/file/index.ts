import type { TransportFactory } from '../types.js';
import { fileConfigSchema } from './config.js';
import { createFileTransport } from './transport.js';

export const fileTransport: TransportFactory<typeof fileConfigSchema> = {
  type: 'file',
  configSchema: fileConfigSchema,
  summary: 'append NDJSON to a local file, rotated by size',
  create: createFileTransport,
};
