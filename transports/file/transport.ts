import { open, rename, rm, mkdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OutboundEvent, SendResult, Transport } from '../types.js';
import { errorMessage } from '../../agent/util/errors.js';
import type { FileConfig } from './config.js';

class FileTransport implements Transport {
  readonly type = 'file';
  private handle: FileHandle | undefined;
  private size = 0;

  constructor(private readonly cfg: FileConfig) {}

  async start(): Promise<void> {
    await mkdir(dirname(this.cfg.path), { recursive: true });
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle;
    const h = await open(this.cfg.path, 'a', 0o640);
    this.size = (await h.stat()).size;
    this.handle = h;
    return h;
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    const { path, max_files: keep } = this.cfg;
    await rm(`${path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined);
    }
    await rename(path, `${path}.1`).catch(() => undefined);
  }

  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    if (signal.aborted) return { kind: 'retryable', reason: 'aborted' };
    try {
      let h = await this.ensureOpen();
      const text = batch.map((e) => e.json).join('\n') + '\n';
      const bytes = Buffer.byteLength(text);
      if (this.size > 0 && this.size + bytes > this.cfg.max_bytes) {
        await this.rotate();
        h = await this.ensureOpen();
      }
      await h.write(text);
      this.size += bytes;
      return { kind: 'ok' };
    } catch (err) {
      // The file may have been moved by an external rotator, or the disk is full: reopen next time.
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
      return { kind: 'retryable', reason: errorMessage(err) };
    }
  }

  async flush(): Promise<void> {
    await this.handle?.datasync();
  }

  async shutdown(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}

/** Appends NDJSON to `path`, rotated by size (`path.1` is the newest rotated file). */
export function createFileTransport(config: FileConfig): Transport {
  return new FileTransport(config);
}
