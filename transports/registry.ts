import type { TransportFactory } from './types.js';
import { stdoutTransport } from './stdout/index.js';
import { fileTransport } from './file/index.js';
import { httpTransport } from './http/index.js';
import { syslogTransport } from './syslog/index.js';
import { kafkaTransport } from './kafka/index.js';
import type { transportCreators } from './runtime.js';

/**
 * Every output type with its config schema (validation, docs), keyed like transports/runtime.ts,
 * which has the constructors a running agent uses without zod. Adding a transport is a new folder
 * under transports/ and one line in each: `satisfies` fails the build when the two lists differ,
 * and a test checks that each `create` is the runtime one.
 */
const byType = {
  stdout: stdoutTransport,
  file: fileTransport,
  http: httpTransport,
  syslog: syslogTransport,
  kafka: kafkaTransport,
} satisfies Record<keyof typeof transportCreators, TransportFactory>;

export const transportRegistry: readonly TransportFactory[] = Object.values(byType);

export function findTransport(type: string): TransportFactory | undefined {
  return transportRegistry.find((t) => t.type === type);
}
