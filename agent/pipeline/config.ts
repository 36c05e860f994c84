import { z } from 'zod';
import cron from 'node-cron';
import { byteSize, duration, hostPort } from '../../config/types.js';

/** Keys every output has, whatever its type; owned by the pipeline. */
export const outputCommonShape = {
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a lowercase name of letters, digits, - and _').optional()
    .describe('unique output name (cursor and metrics key); default the type, or type-N when repeated'),
  batch: z.strictObject({
    max_events: z.number().int().positive().max(1_000_000).default(500).describe('most events in one batch'),
    max_bytes: byteSize({ max: 1024 ** 3 }).default(1024 * 1024).describe('most bytes of JSON in one batch'),
    max_wait: duration({ max: 3_600_000 }).default(1000).describe('longest an event waits for its batch to fill'),
    linger: duration({ max: 3_600_000 }).default(5)
      .describe('with no batch in flight, what is queued goes once no new event came for this long (0: at once); bounded by max_wait'),
  }).prefault({}).describe('how events are grouped for this output'),
  retry: z.strictObject({
    initial: duration({ max: 3_600_000 }).default(1000).describe('first backoff (full jitter)'),
    max: duration({ max: 3_600_000 }).default(60_000).describe('backoff ceiling'),
    breaker_threshold: z.number().int().positive().max(1_000_000).default(5).describe('consecutive failures that open the circuit breaker'),
  }).prefault({}).describe('backoff after failed sends; transient failures are retried forever'),
};

export const spoolSchema = z.strictObject({
  max_bytes: byteSize().default(1024 ** 3).describe('disk cap for queued events'),
  segment_bytes: byteSize({ max: 1024 ** 3 }).default(16 * 1024 * 1024).describe('size at which a new segment file starts'),
  when_full: z.enum(['block', 'drop_oldest', 'drop_newest']).default('block')
    .describe('at the cap: block collectors (nothing accepted is lost), or drop and report'),
  fsync: z.enum(['always', 'interval', 'never']).default('interval').describe('when appended events are fsynced'),
  fsync_interval: duration({ max: 60_000 }).default(500).describe('group-commit period for fsync: interval'),
  memory_max_bytes: byteSize({ max: 1024 ** 3 }).default(16 * 1024 * 1024)
    .describe('while the spool cannot be written (full disk, I/O error) events go to the outputs from memory, up to this much; beyond it they are dropped and counted (spool_unwritable)'),
}).prefault({}).describe('the durable on-disk queue under state_dir/spool');

export const metricsSchema = z.strictObject({
  listen: hostPort({ anyPort: true }).optional().describe('Prometheus text endpoint address; off when absent (bind loopback)'),
}).prefault({}).describe('agent metrics');

export const heartbeatSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('emit a portwarden.agent heartbeat metric event'),
  schedule: z.string().default('*/5 * * * *').refine((s) => cron.validate(s), 'expected a cron expression like "*/5 * * * *" (node-cron syntax)')
    .describe('cron schedule of the heartbeat (node-cron syntax)'),
}).prefault({}).describe('periodic agent health event with the pipeline counters');
