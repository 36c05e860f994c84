import type { OutboundEvent, SendResult, Transport } from '../types.js';
import type { StdoutConfig } from './config.js';
import { ndjsonBytes } from '../shared/ndjson.js';
import { formatHuman } from './human.js';

function writeAll(stream: NodeJS.WriteStream, text: string | Buffer, signal: AbortSignal): Promise<SendResult> {
  return new Promise((resolve) => {
    const onAbort = () => { resolve({ kind: 'retryable', reason: 'aborted' }); };
    signal.addEventListener('abort', onAbort, { once: true });
    stream.write(text, (err) => {
      signal.removeEventListener('abort', onAbort);
      resolve(err == null ? { kind: 'ok' } : { kind: 'retryable', reason: err.message });
    });
  });
}

/** NDJSON on standard output, or one readable line per event (`human`, and `auto` on a TTY). */
export function createStdoutTransport(config: StdoutConfig): Transport {
  const stream = process.stdout;
  const human = config.format === 'human' || (config.format === 'auto' && stream.isTTY);
  return {
    type: 'stdout',
    start: () => Promise.resolve(),
    flush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    send(batch: readonly OutboundEvent[], signal: AbortSignal) {
      const out = human ? batch.map((e) => formatHuman(e.doc)).join('\n') + '\n' : ndjsonBytes(batch);
      return writeAll(stream, out, signal);
    },
  };
}
