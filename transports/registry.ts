import { Registry } from '../agent/util/registry.js';
import type { Transport, TransportContext } from './types.js';

/** Builds a transport from its validated config (each takes its own config type). */
export type TransportCreate = (config: never, ctx: TransportContext) => Transport;

/**
 * Every output type, one line each: its `outputs[].type` and its constructor, loaded only when an
 * output of that type is configured (so kafkajs and undici stay out of an agent that does not use
 * them). The rest of a type is its folder: `transports/<type>/index.ts` exports its `spec` (config
 * schema, summary), which validation and the docs load (transports/specs.ts). This module never
 * loads zod: the running agent validates nothing (agent/app/startup-isolated.ts).
 */
export const transportRegistry = new Registry<Promise<TransportCreate>>('output type', {
  stdout: async () => (await import('./stdout/transport.js')).createStdoutTransport,
  file: async () => (await import('./file/transport.js')).createFileTransport,
  http: async () => (await import('./http/transport.js')).createHttpTransport,
  syslog: async () => (await import('./syslog/transport.js')).createSyslogTransport,
  kafka: async () => (await import('./kafka/create.js')).createKafkaTransport,
});
