import type { Transport, TransportContext } from '../types.js';
import { lazyTransport } from '../shared/lazy.js';
import type { KafkaConfig } from './config.js';

/** The kafka output; kafkajs is loaded when it starts, not when the registry is read. */
export function lazyKafkaTransport(config: KafkaConfig, ctx: TransportContext): Transport {
  return lazyTransport('kafka', async () => (await import('./create.js')).createKafkaTransport(config, ctx));
}
