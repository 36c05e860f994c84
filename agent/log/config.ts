import { z } from 'zod';

/** `log:`, the agent's own diagnostics (never mixed into events). */
export const logSchema = z.strictObject({
  level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('least severe level written'),
  file: z.string().optional().describe('log file; stderr when absent'),
  format: z.enum(['auto', 'ecs', 'human']).default('auto')
    .describe('ecs: ECS JSON lines (service mode); human: short lines; auto: human on a TTY, else ecs'),
}).prefault({}).describe("the agent's own diagnostics (never mixed into events)");
