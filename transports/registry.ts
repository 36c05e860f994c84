import type { TransportFactory } from './types.js';
import { stdoutTransport } from './stdout/index.js';
import { fileTransport } from './file/index.js';
import { httpTransport } from './http/index.js';
import { syslogTransport } from './syslog/index.js';
import { kafkaTransport } from './kafka/index.js';

/**
 * Every output type the agent can create, one line each. Adding a transport is a new folder under
 * transports/ and one line here and in runtime.ts. Types must be unique (checked by a test).
 */
export const transportRegistry: readonly TransportFactory[] = [
  stdoutTransport,
  fileTransport,
  httpTransport,
  syslogTransport,
  kafkaTransport,
];

export function findTransport(type: string): TransportFactory | undefined {
  return transportRegistry.find((t) => t.type === type);
}
