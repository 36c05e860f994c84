/**
 * The whole config schema, assembled from the modules' own: outputs from each transport's spec
 * plus the pipeline's common keys, `spool`/`metrics`/`heartbeat` from the pipeline, `detect` from
 * detection, `log` from the logger. Loads zod: validation only (the start-up worker, one-shot
 * commands, docs), never the running agent.
 */
import { posix, win32 } from 'node:path';
import { z } from 'zod';
import cron from 'node-cron';
import { duration } from '../../config/types.js';
import type { OutputConfig } from '../pipeline/output-config.js';
import { transportSpecs } from '../../transports/specs.js';
import { heartbeatSchema, metricsSchema, outputCommonShape, spoolSchema } from '../pipeline/config.js';
import { detectSchema } from '../detect/config.js';
import { logSchema } from '../log/config.js';
import { policySchema } from '../policy/config.js';
import { sourceSchema } from '../sources/config.js';

const specs = await transportSpecs();

/** One schema per output type: the transport's own keys plus the pipeline's common keys. */
export function outputSchemas() {
  return specs.map((t) => t.configSchema.extend(outputCommonShape));
}

function outputSchema(): z.ZodType<OutputConfig> {
  const [first, ...rest] = outputSchemas();
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
  connections: z.enum(['off', 'alerts', 'all']).default('alerts')
    .describe('outbound TCP connection events (Linux eBPF; Windows: new connections in the connection table at each poll): alerts (they feed detection, only alerts ship), all (every event ships too), or off (not watched: no kernel program, no table read; switching to or from off takes a restart)'),
}).prefault({}).describe('which event families ship');

export const inventorySchema = z.strictObject({
  enabled: z.boolean().default(true).describe('emit a full listener inventory on a schedule'),
  schedule: z.string().default('0 * * * *')
    .refine((expr) => cron.validate(expr), { error: (iss) => `a cron schedule (node-cron syntax, e.g. "0 * * * *"), got ${JSON.stringify(iss.input)}` })
    .describe('cron schedule (node-cron syntax) of the inventory, default hourly'),
}).prefault({}).describe('regular audit of the listener table as event.kind: state');

/** Elastic's naming rules for a data stream namespace: lower case, no `-`, none of \ / * ? " < > | , # : or space, at most 100 bytes. */
export const dataStreamSchema = z.strictObject({
  namespace: z.string().default('default')
    .refine((ns) => ns !== '' && Buffer.byteLength(ns) <= 100 && ns === ns.toLowerCase() && !/[-\\/*?"<>|,#: ]/.test(ns),
      { error: (iss) => `a data stream namespace: lower case, at most 100 bytes, none of - \\ / * ? " < > | , # : or space; got ${JSON.stringify(iss.input)}` })
    .describe('data_stream.namespace of every event (logs-<event.dataset>-<namespace>); set an elasticsearch output\'s namespace to the same'),
}).prefault({}).describe('the data stream fields of every event');

/** Why a state_dir value cannot be one (empty, relative, under a kernel filesystem), or undefined. */
export function stateDirShapeProblem(dir: string): string | undefined {
  if (dir.trim() === '') return 'got an empty value (it would mean the working directory)';
  // A Windows drive path is accepted everywhere, so a Windows config validates on any host.
  if (!posix.isAbsolute(dir) && !win32.isAbsolute(dir)) return `got a relative path ${JSON.stringify(dir)}`;
  const norm = posix.normalize(dir);
  const kernel = ['/proc', '/sys', '/dev'].find((k) => norm === k || norm.startsWith(`${k}/`));
  return kernel === undefined ? undefined : `got ${JSON.stringify(dir)}, under ${kernel}`;
}

export const configSchema = z.strictObject({
  data_stream: dataStreamSchema,
  state_dir: z.string().optional()
    .refine((dir) => dir === undefined || stateDirShapeProblem(dir) === undefined,
      { error: (iss) => `an absolute directory path outside /proc, /sys and /dev; ${stateDirShapeProblem(String(iss.input)) ?? ''}` })
    .describe('where agent id, spool, cursors and baseline live; default /var/lib/portwarden as root, else ~/.local/state/portwarden'),
  interval: duration({ max: 3_600_000 }).default(1000).refine((ms) => ms >= 100, 'expected at least 100ms')
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
  policy: policySchema,
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
