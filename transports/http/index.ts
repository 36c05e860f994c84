import type { TransportSpec } from '../types.js';
import { httpConfigSchema } from './config.js';

export type { HttpConfig } from './config.js';

/** `type: http` for validation and docs; its constructor is in transports/registry.ts. */
export const spec: TransportSpec<typeof httpConfigSchema> = {
  type: 'http',
  configSchema: httpConfigSchema,
  summary: 'POST events to Elasticsearch (_bulk into data streams), Splunk HEC, or any NDJSON webhook',
};
