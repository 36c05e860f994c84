import { join } from 'node:path';
import { mkdirPrivate, openAppend } from '../util/safe-fs.js';
import type { OutboundEvent } from '../../transports/types.js';

/**
 * Events an output rejected for good, one NDJSON line each:
 * `{"@timestamp": when, "output": name, "reason": why, "event": <the document>}`.
 * Appended before the cursor moves past them, so a crash can only repeat a line, never lose it.
 * The file is 0600 (events hold command lines) and never written through a symlink or hard link.
 */
export class DeadLetter {
  readonly path: string;

  constructor(private readonly dir: string, output: string, private readonly now: () => number, private readonly sync = true) {
    this.path = join(dir, `${output}.ndjson`);
  }

  async write(output: string, items: { event: OutboundEvent; reason: string }[]): Promise<void> {
    if (items.length === 0) return;
    await mkdirPrivate(this.dir);
    const ts = new Date(this.now()).toISOString();
    const text = items
      .map((i) => `{"@timestamp":${JSON.stringify(ts)},"output":${JSON.stringify(output)},"reason":${JSON.stringify(i.reason)},"event":${i.event.json}}\n`)
      .join('');
    const fh = await openAppend(this.path);
    try {
      await fh.writeFile(text);
      // On disk before the cursor moves past these events (the cursor write is fsynced too).
      if (this.sync) await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}
