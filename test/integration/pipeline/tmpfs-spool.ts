import { join } from 'node:path';
import { createPipeline } from '../../../agent/pipeline/index.js';
import type { Logger } from '../../../agent/log/logger.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { defer, pipelineOptions, tempState, testDoc } from '../../unit/agent/pipeline/support.js';
import { mountTmpfs, unmount } from '../../helpers/disk.js';

/** Small segments (many of them) on a 4 MiB tmpfs; group commit every 100 ms. */
export const spool = { segment_bytes: 64 * 1024, max_bytes: 64 * 1024 * 1024, fsync_interval: 100 };
export const N = 2000;

/** A state dir on a real 4 MiB tmpfs holding N events queued while the output was down (unmounted after the test). */
export async function spooledOnTmpfs(t: Parameters<typeof tempState>[0]): Promise<string> {
  const dir = join(await tempState(t), 'state');
  mountTmpfs(dir, '4m');
  defer(t, () => { unmount(dir); return Promise.resolve(); });
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'out', transport: down }], { spool }));
  await p.start();
  await Promise.all(Array.from({ length: N }, (_, i) => p.accept(testDoc(i + 1, 'event', 100))));
  await p.shutdown();
  return dir;
}

/** A logger that keeps each line as `level message {meta}`. */
export function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (message: string, meta?: Record<string, unknown>): void => { lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`); };
  const logger: Logger = { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), child: () => logger };
  return logger;
}
