import { z } from 'zod';
import { byteSize } from '../../config/types.js';

/** `type: file` keys (validated at start-up; the running output never loads zod). */
export const fileConfigSchema = z.strictObject({
  type: z.literal('file'),
  path: z.string().min(1).describe('NDJSON file to append to (one ECS document per line)'),
  max_bytes: byteSize().default(100 * 1024 * 1024).describe('rotate when the file would grow past this size'),
  max_files: z.number().int().min(1).max(1000).default(5).describe('rotated files kept (path.1 is the newest)'),
});
export type FileConfig = z.output<typeof fileConfigSchema>;
