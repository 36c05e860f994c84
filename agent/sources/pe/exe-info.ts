import { createHash, type Hash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { imphash, readImports } from './pe-imports.js';
import { openPe, type ReadAt } from './pe-image.js';
import { readVersionInfo, type PeVersionInfo } from './pe-version.js';

/**
 * What the agent learns from an executable file: PE version strings, the import hash and file
 * hashes. Computed off the poll (async reads, at most `concurrency` files at once), once per file
 * identity (path, size, modification time, file index), in a bounded cache.
 */
export const HASH_ALGORITHMS = ['md5', 'sha1', 'sha256', 'imphash'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export interface ExeInfo {
  version?: PeVersionInfo;
  imphash?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  /** Why something is missing (not a PE file, access denied, larger than the hashing cap). */
  error?: string;
}

export interface ExeInfoOptions {
  hashes: readonly HashAlgorithm[];
  /** Files larger than this are not hashed (their PE version info is still read). */
  maxHashBytes: number;
  concurrency?: number;
  /** Most file identities remembered (default 4,096). */
  cacheSize?: number;
}

export interface ExeInfoStats { computed: number; cached: number; failed: number; tooLargeToHash: number }

/** Reads one file: PE info from bounded reads, hashes streamed in one pass. */
export async function computeExeInfo(path: string, opts: Pick<ExeInfoOptions, 'hashes' | 'maxHashBytes'>): Promise<ExeInfo> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return { error: (err as Error).message };
  }
  try {
    const { size } = await fh.stat();
    const read: ReadAt = async (offset, length) => {
      const len = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(len);
      const { bytesRead } = len === 0 ? { bytesRead: 0 } : await fh.read(buf, 0, len, offset);
      return buf.subarray(0, bytesRead);
    };
    const out: ExeInfo = {};
    const errors: string[] = [];
    try {
      const pe = await openPe(read, size);
      const version = await pe.run(readVersionInfo);
      if (version !== undefined) out.version = version;
      if (opts.hashes.includes('imphash')) {
        const h = imphash(await pe.run(readImports));
        if (h !== undefined) out.imphash = h;
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
    const algos = opts.hashes.filter((a): a is 'md5' | 'sha1' | 'sha256' => a !== 'imphash');
    if (algos.length > 0 && size > opts.maxHashBytes) errors.push(`${size} bytes is over the hashing cap of ${opts.maxHashBytes}`);
    else if (algos.length > 0) Object.assign(out, await hashFile(fh, algos));
    if (errors.length > 0) out.error = errors.join('; ');
    return out;
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function hashFile(fh: FileHandle, algos: readonly ('md5' | 'sha1' | 'sha256')[]): Promise<Partial<Record<'md5' | 'sha1' | 'sha256', string>>> {
  const hashes: [string, Hash][] = algos.map((a) => [a, createHash(a)]);
  const buf = Buffer.allocUnsafe(1024 * 1024);
  for (let pos = 0; ;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    for (const [, h] of hashes) h.update(chunk);
    pos += bytesRead;
  }
  return Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')]));
}

/** Cache and work queue over computeExeInfo. */
export class ExeInfoCache {
  private readonly byIdentity = new Map<string, ExeInfo>();
  private readonly inFlight = new Map<string, Promise<ExeInfo>>();
  private readonly queue: (() => void)[] = [];
  private running = 0;
  private readonly counts: ExeInfoStats = { computed: 0, cached: 0, failed: 0, tooLargeToHash: 0 };

  constructor(private readonly opts: ExeInfoOptions, private readonly compute = computeExeInfo) {}

  stats(): ExeInfoStats {
    return { ...this.counts };
  }

  /** The file's info (from the cache when its identity is unchanged). */
  async get(path: string): Promise<ExeInfo> {
    let key: string;
    try {
      const s = await stat(path, { bigint: true });
      key = `${path.toLowerCase()}\0${s.size}\0${s.mtimeNs}\0${s.ino}`;
    } catch (err) {
      // A file gone since the process started is not a reading failure worth reporting.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.counts.failed++;
      return { error: (err as Error).message };
    }
    const hit = this.byIdentity.get(key);
    if (hit !== undefined) {
      // Most recently used last: the oldest entry is the first to go.
      this.byIdentity.delete(key);
      this.byIdentity.set(key, hit);
      this.counts.cached++;
      return hit;
    }
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = this.limited(() => this.compute(path, this.opts)).then((info) => {
      this.inFlight.delete(key);
      this.counts.computed++;
      if (info.error !== undefined) this.counts.failed++;
      if (info.error?.includes('hashing cap') === true) this.counts.tooLargeToHash++;
      this.byIdentity.set(key, info);
      const max = this.opts.cacheSize ?? 4096;
      while (this.byIdentity.size > max) this.byIdentity.delete(this.byIdentity.keys().next().value as string);
      return info;
    });
    this.inFlight.set(key, p);
    return p;
  }

  private async limited<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= (this.opts.concurrency ?? 2)) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}
