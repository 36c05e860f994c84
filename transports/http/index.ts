import type { TransportFactory } from '../types.js';
import { httpConfigSchema } from './config.js';
import { lazyHttpTransport } from './lazy.js';

export type { HttpConfig } from './config.js';

/** `type: http`: Elasticsearch `_bulk`, Splunk HEC or a generic NDJSON webhook over undici. */
export const httpTransport: TransportFactory<typeof httpConfigSchema> = {
  type: 'http',
  configSchema: httpConfigSchema,
  summary: 'POST events to Elasticsearch (_bulk into data streams), Splunk HEC, or any NDJSON webhook',
  create: lazyHttpTransport,
};
