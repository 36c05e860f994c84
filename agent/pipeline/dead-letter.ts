import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboundEvent } from '../../transports/types.js';

/**
 * Events an output rejected for good, one NDJSON line each:
 * `{"@timestamp": when, "output": name, "reason": why, "event": <the document>}`.
 * Appended before the cursor moves past them, so a crash can only repeat a line, never lose it.
 */
export class DeadLetter {
  readonly path: string;

  constructor(private readonly dir: string, output: string, private readonly now: () => number) {
    this.path = join(dir, `${output}.ndjson`);
  }

  async write(output: string, items: { event: OutboundEvent; reason: string }[]): Promise<void> {
    if (items.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    const ts = new Date(this.now()).toISOString();
    const text = items
      .map((i) => `{"@timestamp":${JSON.stringify(ts)},"output":${JSON.stringify(output)},"reason":${JSON.stringify(i.reason)},"event":${i.event.json}}\n`)
      .join('');
    await appendFile(this.path, text, { mode: 0o640 });
  }
}
