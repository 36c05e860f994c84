import type { OutboundEvent, SendResult, Transport } from '../types.js';

/**
 * Defers loading a transport's implementation (and its client library: undici, kafkajs) until the
 * output starts, so an agent that does not use an output does not pay its memory (kafkajs ~13 MB,
 * undici ~21 MB of RSS measured). Lifecycle and results are the inner transport's.
 */
export function lazyTransport(type: string, load: () => Promise<Transport>): Transport {
  let inner: Promise<Transport> | undefined;
  let loaded: Transport | undefined;
  const get = (): Promise<Transport> => (inner ??= load().then((t) => (loaded = t)));
  return {
    stats: (): object => loaded?.stats?.() ?? {},
    type,
    start: async () => { await (await get()).start(); },
    send: async (batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> => (await get()).send(batch, signal),
    flush: async () => { if (inner !== undefined) await (await inner).flush(); },
    shutdown: async () => { if (inner !== undefined) await (await inner).shutdown(); },
  };
}
