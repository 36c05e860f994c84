import { randomUUID } from 'node:crypto';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { memoryLogger } from '../../../agent/log/logger.js';
import { Dataset } from '../../../agent/ecs/fields.js';
import type { OutboundEvent, SendResult, Transport, TransportContext } from '../../../transports/types.js';
import { httpConfigSchema } from '../../../transports/http/config.js';
import { createHttpTransport } from '../../../transports/http/transport.js';

const DATASETS = [Dataset.network, Dataset.process, Dataset.alerts, Dataset.agent] as const;

/** `n` small but complete-looking ECS documents, cycling through the datasets, as the pipeline hands them over. */
export function makeEvents(n: number, opts: { padBytes?: number; dataset?: string } = {}): OutboundEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const dataset = opts.dataset ?? DATASETS[i % DATASETS.length] ?? Dataset.network;
    const doc = {
      '@timestamp': `2026-11-27T10:00:${String(i % 60).padStart(2, '0')}.123456Z`,
      message: `event ${i}${'x'.repeat(opts.padBytes ?? 0)}`,
      ecs: { version: '9.4.0' },
      event: {
        id: randomUUID(), kind: 'event', action: 'listening_started', dataset, module: 'portwarden',
        created: '2026-11-27T10:00:00.000Z', sequence: i,
      },
      host: { name: 'web-01.example.org', id: 'host-1' },
      destination: { ip: '0.0.0.0', port: 8000 + i },
      data_stream: { type: 'logs', dataset, namespace: 'default' },
    } as unknown as EcsDocument;
    return { doc, json: JSON.stringify(doc) };
  });
}

export const idOf = (e: OutboundEvent): string => e.doc.event.id;

export function testContext(name = 'http') {
  const logger = memoryLogger();
  const ctx: TransportContext = { name, logger, stateDir: '/nonexistent', configFile: 'test.yaml', agentPid: process.pid, hostName: 'test-host' };
  return { ctx, logger };
}

/** Builds an http output from raw config, as the config loader would. */
export function makeHttp(raw: Record<string, unknown>, name = 'http'): { transport: Transport; logger: ReturnType<typeof memoryLogger> } {
  const { ctx, logger } = testContext(name);
  const transport = createHttpTransport(httpConfigSchema.parse({ type: 'http', ...raw }), ctx);
  return { transport, logger };
}

export interface DeliveryReport {
  delivered: Set<string>;
  deadLettered: Map<string, string>;
  results: SendResult[];
  /** The batch (event ids) of each send, in order. */
  sends: string[][];
  paused?: string;
}

/**
 * What the pipeline does with SendResults, without its timers: send what is queued, drop delivered
 * events, dead-letter rejected ones, send retries again; stop at `paused` or after `maxSends`.
 */
export async function deliver(t: Transport, events: readonly OutboundEvent[], maxSends = 20): Promise<DeliveryReport> {
  const report: DeliveryReport = { delivered: new Set(), deadLettered: new Map(), results: [], sends: [] };
  let queue = [...events];
  while (queue.length > 0 && report.sends.length < maxSends) {
    const batch = queue;
    report.sends.push(batch.map(idOf));
    const r = await t.send(batch, new AbortController().signal);
    report.results.push(r);
    switch (r.kind) {
      case 'ok':
        for (const e of batch) report.delivered.add(idOf(e));
        queue = [];
        break;
      case 'permanent':
        for (const e of batch) report.deadLettered.set(idOf(e), r.reason);
        queue = [];
        break;
      case 'partial': {
        const retry = new Set(r.retry);
        const rejected = new Map(r.rejected.map((x) => [x.index, x.reason]));
        queue = [];
        for (const [i, e] of batch.entries()) {
          const reason = rejected.get(i);
          if (retry.has(i)) queue.push(e);
          else if (reason !== undefined) report.deadLettered.set(idOf(e), reason);
          else report.delivered.add(idOf(e));
        }
        break;
      }
      case 'retryable':
        break;
      case 'paused':
        report.paused = r.reason;
        return report;
    }
  }
  return report;
}

/** The reason of a non-ok result ('' for ok and partial), for assertions. */
export function reasonOf(r: SendResult | undefined): string {
  return r !== undefined && 'reason' in r ? r.reason : '';
}

/** `retryAfterMs` of a retryable result, undefined otherwise. */
export function retryAfterOf(r: SendResult | undefined): number | undefined {
  return r?.kind === 'retryable' ? r.retryAfterMs : undefined;
}
