import type { Transport, TransportContext } from './types.js';
import { createFileTransport } from './file/transport.js';
import { lazyHttpTransport } from './http/lazy.js';
import { lazyKafkaTransport } from './kafka/lazy.js';
import { createStdoutTransport } from './stdout/transport.js';
import { createSyslogTransport } from './syslog/transport.js';

/** Builds a transport from its validated config (each takes its own config type). */
export type TransportCreate = (config: never, ctx: TransportContext) => Transport;

/**
 * What a running agent needs of each output type: its constructor, without the config schema.
 * The schemas (registry.ts, zod) are used while the config is validated, in the start-up worker
 * (agent/cli/startup-isolated.ts); keeping them out of here keeps zod out of the agent's heap.
 * registry.ts lists the same types (checked when compiling) with the same `create` (checked by a test).
 */
export const transportCreators = {
  stdout: createStdoutTransport,
  file: createFileTransport,
  http: lazyHttpTransport,
  syslog: createSyslogTransport,
  kafka: lazyKafkaTransport,
} as const satisfies Readonly<Record<string, TransportCreate>>;
