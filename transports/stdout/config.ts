import { z } from 'zod';

/** `type: stdout` keys (validated at start-up; the running output never loads zod). */
export const stdoutConfigSchema = z.strictObject({
  type: z.literal('stdout'),
  format: z.enum(['auto', 'ndjson', 'human']).default('auto')
    .describe('ndjson: one ECS document per line; human: one readable line per event; auto: human on a TTY'),
});
export type StdoutConfig = z.output<typeof stdoutConfigSchema>;
