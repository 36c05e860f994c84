import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeStateFile } from '../cursor-store.js';

/**
 * `head.json`: the next sequence number known durable, written atomically at each group commit. On
 * open it keeps a seq that a cursor may already have passed from being handed out again when the
 * segments that held it are gone.
 */
export class SpoolHead {
  private written = 0;

  constructor(private readonly dir: string) {}

  private get path(): string { return join(this.dir, 'head.json'); }

  /** The recorded next seq; 1 when there is no head yet or it is unreadable (the scan alone decides). */
  async read(): Promise<number> {
    try {
      const v = JSON.parse(await readFile(this.path, 'utf8')) as { next?: unknown };
      if (typeof v.next === 'number' && Number.isSafeInteger(v.next)) return v.next;
    } catch { /* no head yet, or unreadable */ }
    return 1;
  }

  /** What the file says now (after open: the spool's next seq, so an unchanged head is not rewritten). */
  recorded(next: number): void { this.written = next; }

  /** Records `next` unless it is already recorded. */
  async write(next: number, sync: boolean): Promise<void> {
    if (next === this.written) return;
    await writeStateFile(this.path, JSON.stringify({ next }), sync);
    this.written = next;
  }
}
