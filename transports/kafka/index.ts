import type { TransportSpec } from '../types.js';
import { kafkaConfigSchema } from './config.js';

export type { KafkaTransport } from './transport.js';
export type { KafkaConfig } from './config.js';

/** `type: kafka` for validation and docs; its constructor is in transports/registry.ts. */
export const spec: TransportSpec<typeof kafkaConfigSchema> = {
  type: 'kafka',
  configSchema: kafkaConfigSchema,
  summary: 'produce ECS JSON records to Kafka topics (key host.id, headers event.dataset and event.kind)',
};
