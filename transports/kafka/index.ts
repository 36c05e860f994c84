import type { TransportFactory } from '../types.js';
import { lazyTransport } from '../shared/lazy.js';
import { kafkaConfigSchema } from './config.js';

export type { KafkaTransport } from './transport.js';
export type { KafkaConfig } from './config.js';

// kafkajs is loaded when a kafka output starts, not when the registry is read.
export const kafkaTransport: TransportFactory<typeof kafkaConfigSchema> = {
  type: 'kafka',
  configSchema: kafkaConfigSchema,
  summary: 'produce ECS JSON records to Kafka topics (key host.id, headers event.dataset and event.kind)',
  create: (config, ctx) => lazyTransport('kafka', async () => (await import('./create.js')).createKafkaTransport(config, ctx)),
};
