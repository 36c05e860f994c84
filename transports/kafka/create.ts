import type { TransportContext } from '../types.js';
import type { KafkaProducerClient } from './client.js';
import type { KafkaConfig } from './config.js';
import { KafkaJsClient } from './kafkajs-client.js';
import { KafkaTransport } from './transport.js';

/** Builds the output around any KafkaProducerClient (kafkajs by default). */
export function createKafkaTransport(config: KafkaConfig, ctx: TransportContext, client?: KafkaProducerClient): KafkaTransport {
  const logger = ctx.logger.child({ output: ctx.name });
  return new KafkaTransport(config, client ?? new KafkaJsClient(config, logger), logger);
}
