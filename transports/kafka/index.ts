import type { TransportFactory } from '../types.js';
import { lazyKafkaTransport } from './lazy.js';
import { kafkaConfigSchema } from './config.js';

export type { KafkaTransport } from './transport.js';
export type { KafkaConfig } from './config.js';

export const kafkaTransport: TransportFactory<typeof kafkaConfigSchema> = {
  type: 'kafka',
  configSchema: kafkaConfigSchema,
  summary: 'produce ECS JSON records to Kafka topics (key host.id, headers event.dataset and event.kind)',
  create: lazyKafkaTransport,
};
