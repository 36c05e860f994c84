import { z } from 'zod';
import type { OutboundEvent, SendResult, Transport, TransportFactory } from '../types.js';
import { formatHuman } from './human.js';

const configSchema = z.strictObject({
  type: z.literal('stdout'),
  format: z.enum(['auto', 'ndjson', 'human']).default('auto')
    .describe('ndjson: one ECS document per line; human: one readable line per event; auto: human on a TTY'),
});

function writeAll(stream: NodeJS.WriteStream, text: string, signal: AbortSignal): Promise<SendResult> {
  return new Promise((resolve) => {
    const onAbort = () => { resolve({ kind: 'retryable', reason: 'aborted' }); };
    signal.addEventListener('abort', onAbort, { once: true });
    stream.write(text, (err) => {
      signal.removeEventListener('abort', onAbort);
      resolve(err == null ? { kind: 'ok' } : { kind: 'retryable', reason: err.message });
    });
  });
}

export const stdoutTransport: TransportFactory<typeof configSchema> = {
  type: 'stdout',
  configSchema,
  summary: 'print events on standard output (NDJSON, or one readable line per event on a TTY)',
  create(config): Transport {
    const stream = process.stdout;
    const human = config.format === 'human' || (config.format === 'auto' && stream.isTTY);
    return {
      type: 'stdout',
      start: () => Promise.resolve(),
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
      send(batch: readonly OutboundEvent[], signal: AbortSignal) {
        const text = batch.map((e) => (human ? formatHuman(e.doc) : e.json)).join('\n') + '\n';
        return writeAll(stream, text, signal);
      },
    };
  },
};
