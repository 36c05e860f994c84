import type { TransportContext, TransportFactory } from '../types.js';
import type { KafkaProducerClient } from './client.js';
import { kafkaConfigSchema } from './config.js';
import type { KafkaConfig } from './config.js';
import { KafkaJsClient } from './kafkajs-client.js';
import { KafkaTransport } from './transport.js';

export { KafkaTransport } from './transport.js';
export type { KafkaConfig } from './config.js';

/** Builds the output around any KafkaProducerClient (kafkajs by default). */
export function createKafkaTransport(config: KafkaConfig, ctx: TransportContext, client?: KafkaProducerClient): KafkaTransport {
  const logger = ctx.logger.child({ output: ctx.name });
  return new KafkaTransport(config, client ?? new KafkaJsClient(config, logger), logger);
}

export const kafkaTransport: TransportFactory<typeof kafkaConfigSchema> = {
  type: 'kafka',
  configSchema: kafkaConfigSchema,
  summary: 'produce ECS JSON records to Kafka topics (key host.id, headers event.dataset and event.kind)',
  create: (config, ctx) => createKafkaTransport(config, ctx),
};
