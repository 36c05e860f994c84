import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { memoryLogger } from '../../../agent/log/logger.js';
import type { Logger } from '../../../agent/log/logger.js';
import { kafkaConfigSchema } from '../../../transports/kafka/config.js';
import { createKafkaTransport } from '../../../transports/kafka/create.js';
import type { KafkaTransport } from '../../../transports/kafka/index.js';
import type { OutboundEvent, SendResult } from '../../../transports/types.js';

/** A kafka output from raw config keys, as the config loader would build it. */
export function kafkaOutput(raw: Record<string, unknown>, logger: Logger = memoryLogger()): KafkaTransport {
  const cfg = kafkaConfigSchema.parse({ type: 'kafka', ...raw });
  return createKafkaTransport(cfg, {
    name: 'kafka', logger, stateDir: '.', configFile: 'test.yaml', agentPid: process.pid, hostName: 'test-host',
  });
}

export interface Delivery {
  /** Results of every attempt, in order. */
  results: SendResult[];
  /** Events that went to the dead letter, with their reasons. */
  deadLettered: { ev: OutboundEvent; reason: string }[];
}

export interface DeliverOptions {
  deadlineMs?: number;
  backoffMs?: number;
  /** Called with every attempt's result as it happens. */
  onResult?: (r: SendResult) => void;
  /** Gives up (throws) once aborted. */
  signal?: AbortSignal;
}

/**
 * Stands in for the pipeline's retry loop: re-sends what is retryable (after `backoffMs`), keeps
 * rejected events aside as dead letters, gives up at `deadline`. One send in flight, like the pipeline.
 */
export async function deliver(t: KafkaTransport, batch: readonly OutboundEvent[], opts: DeliverOptions = {}): Promise<Delivery> {
  const { deadlineMs = 60_000, backoffMs = 200 } = opts;
  const out: Delivery = { results: [], deadLettered: [] };
  let pending = [...batch];
  const end = Date.now() + deadlineMs;
  while (pending.length > 0) {
    if (Date.now() > end || opts.signal?.aborted === true) {
      throw new Error(`undelivered after ${String(deadlineMs)} ms: ${JSON.stringify(out.results.slice(-3))}`);
    }
    const r = await t.send(pending, new AbortController().signal);
    out.results.push(r);
    opts.onResult?.(r);
    switch (r.kind) {
      case 'ok':
        pending = [];
        break;
      case 'permanent':
        for (const ev of pending) out.deadLettered.push({ ev, reason: r.reason });
        pending = [];
        break;
      case 'partial': {
        for (const { index, reason } of r.rejected) {
          const ev = pending[index];
          if (ev !== undefined) out.deadLettered.push({ ev, reason });
        }
        pending = r.retry.map((i) => pending[i]).filter((e) => e !== undefined);
        break;
      }
      case 'retryable':
      case 'paused':
        await new Promise((res) => setTimeout(res, backoffMs));
        break;
    }
  }
  return out;
}

/** A port with nothing listening (yet); `open()` later forwards it to `target`. */
export async function reservePort(): Promise<{ port: number; open: (target: string) => Promise<Server> }> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const addr = probe.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  await new Promise((r) => probe.close(r));
  return {
    port,
    open: async (target) => {
      const [host, p] = target.split(':');
      const sockets = new Set<Socket>();
      const server = createServer((c) => {
        const u = connect(Number(p), host ?? '127.0.0.1');
        sockets.add(c).add(u);
        c.pipe(u).pipe(c);
        c.on('error', () => u.destroy());
        u.on('error', () => c.destroy());
      });
      server.on('close', () => { for (const s of sockets) s.destroy(); });
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      return server;
    },
  };
}
