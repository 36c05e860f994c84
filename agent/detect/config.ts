import { z } from 'zod';

/** Detection settings; owned by the detectors. */
export const detectSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('run the built-in detectors and emit alerts'),
}).prefault({}).describe('unusual listener and parent-child detection');
export type DetectConfig = z.output<typeof detectSchema>;
