import { z } from 'zod';
import { duration } from './types.js';
import { transportRegistry } from '../transports/registry.js';
import { heartbeatSchema, metricsSchema, outputCommonShape, spoolSchema } from '../agent/pipeline/config.js';
import { detectSchema } from '../agent/detect/config.js';
import { sourceSchema } from '../agent/sources/config.js';

/** One output: the transport's own keys plus the pipeline's common keys. */
export function outputSchemas() {
  return transportRegistry.map((t) => t.configSchema.extend(outputCommonShape));
}

/**
 * One configured output after validation. Each transport validates its own keys; this is the
 * view the pipeline needs.
 */
export interface OutputConfig {
  type: string;
  name?: string | undefined;
  batch: { max_events: number; max_bytes: number; max_wait: number; linger: number };
  retry: { initial: number; max: number; breaker_threshold: number };
  [key: string]: unknown;
}

function outputSchema(): z.ZodType<OutputConfig> {
  const schemas = outputSchemas();
  const [first, ...rest] = schemas;
  if (first === undefined) throw new Error('no transports registered');
  return z.discriminatedUnion('type', [first, ...rest]) as unknown as z.ZodType<OutputConfig>;
}

export const eventsSchema = z.strictObject({
  process: z.boolean().default(false)
    .describe('ship process start/end events (always tracked for lineage and detection; off saves SIEM volume)'),
  process_filter: z.strictObject({
    users: z.array(z.string()).default([]).describe('ship only processes of these user names (empty: all)'),
    exclude_executables: z.array(z.string()).default([]).describe('never ship processes whose executable starts with one of these'),
    parents: z.array(z.string()).default([]).describe('ship only processes whose parent name is one of these (empty: all)'),
  }).prefault({}).describe('narrow shipped process events'),
}).prefault({}).describe('which event families ship');

export const inventorySchema = z.strictObject({
  enabled: z.boolean().default(true).describe('emit a full listener inventory on a schedule'),
  schedule: z.string().default('0 * * * *').describe('cron schedule (node-cron syntax) of the inventory, default hourly'),
}).prefault({}).describe('regular audit of the listener table as event.kind: state');

export const logSchema = z.strictObject({
  level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('least severe level written'),
  file: z.string().optional().describe('log file; stderr when absent'),
  format: z.enum(['auto', 'ecs', 'human']).default('auto')
    .describe('ecs: ECS JSON lines (service mode); human: short lines; auto: human on a TTY, else ecs'),
}).prefault({}).describe("the agent's own diagnostics (never mixed into events)");

export const configSchema = z.strictObject({
  state_dir: z.string().optional()
    .describe('where agent id, spool, cursors and baseline live; default /var/lib/portwarden as root, else ~/.local/state/portwarden'),
  interval: duration().default(1000).refine((ms) => ms >= 100, 'expected at least 100ms')
    .describe('how often listeners and processes are polled'),
  source: sourceSchema,
  events: eventsSchema,
  inventory: inventorySchema,
  outputs: z.array(outputSchema()).min(1).prefault([{ type: 'stdout' }])
    .describe('where events go; each output has its own cursor, retries and metrics'),
  spool: spoolSchema,
  metrics: metricsSchema,
  heartbeat: heartbeatSchema,
  detect: detectSchema,
  log: logSchema,
}).superRefine((cfg, ctx) => {
  const seen = new Map<string, number>();
  cfg.outputs.forEach((o, i) => {
    if (o.name === undefined) return;
    const prev = seen.get(o.name);
    if (prev !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['outputs', i, 'name'], message: `duplicate output name "${o.name}" (also outputs[${prev}])` });
    }
    seen.set(o.name, i);
  });
});

export type Config = z.output<typeof configSchema>;
