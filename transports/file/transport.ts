import { open, rename, rm, mkdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OutboundEvent, SendResult, Transport } from '../types.js';
import { errorMessage, PortwardenError } from '../../agent/util/errors.js';
import { ndjsonBytes } from '../shared/ndjson.js';
import type { FileConfig } from './config.js';

/**
 * A batch cut short by a crash (SIGKILL, power loss) or a failed write leaves a line without its
 * newline at the end of the file. That batch was not acknowledged and is sent again; appended after
 * the fragment, its first line would be corrupt. The fragment is cut off before appending.
 */
async function dropTornTail(path: string): Promise<void> {
  let h: FileHandle;
  try {
    h = await open(path, 'r+');
  } catch {
    return; // no file yet (or unreadable: the append below reports it)
  }
  try {
    const size = (await h.stat()).size;
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await h.read(chunk, 0, end - start, start);
      const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) {
        end = start + nl + 1;
        break;
      }
      end = start;
    }
    if (end < size) await h.truncate(end);
  } finally {
    await h.close();
  }
}

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
    await dropTornTail(this.cfg.path);
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
      const buf = ndjsonBytes(batch);
      const bytes = buf.length;
      if (this.size > 0 && this.size + bytes > this.cfg.max_bytes) {
        await this.rotate();
        h = await this.ensureOpen();
      }
      // A write to a file may be short (a full disk): the rest is written, or the batch fails.
      for (let off = 0; off < buf.length;) {
        const { bytesWritten } = await h.write(buf, off, buf.length - off);
        if (bytesWritten === 0) throw new PortwardenError('WRITE_STALLED', `${this.cfg.path}: write made no progress`, { retriable: true });
        off += bytesWritten;
      }
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
