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
    const st = await fh.stat();
    // A device or pipe never ends (a read of /dev/zero); only regular files are read.
    if (!st.isFile()) return { error: 'not a regular file' };
    const { size } = st;
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
    else if (algos.length > 0) Object.assign(out, await hashFile(fh, algos, size));
    if (errors.length > 0) out.error = errors.join('; ');
    return out;
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Hashes the first `size` bytes (the size checked against the cap): a file still growing is not read past it. */
async function hashFile(fh: FileHandle, algos: readonly ('md5' | 'sha1' | 'sha256')[], size: number): Promise<Partial<Record<'md5' | 'sha1' | 'sha256', string>>> {
  const hashes: [string, Hash][] = algos.map((a) => [a, createHash(a)]);
  const buf = Buffer.allocUnsafe(1024 * 1024);
  for (let pos = 0; pos < size;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    for (const [, h] of hashes) h.update(chunk);
    pos += bytesRead;
  }
  return Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')]));
}

interface Pool { running: number; max: number; queue: (() => void)[] }

/** Cache and work queue over computeExeInfo. */
export class ExeInfoCache {
  private readonly byIdentity = new Map<string, ExeInfo>();
  private readonly inFlight = new Map<string, Promise<ExeInfo>>();
  /** File reads (open, PE pages, hashes): at most `concurrency` at once. */
  private readonly reads: Pool;
  /**
   * Identity checks: one at a time. A stat of a file on a share that stopped answering holds a
   * libuv thread until the redirector gives up; unbounded, a few of them would take all four and
   * stall the spool's and the transports' file work.
   */
  private readonly identitySlot: Pool = { running: 0, max: 1, queue: [] };
  private readonly counts: ExeInfoStats = { computed: 0, cached: 0, failed: 0, tooLargeToHash: 0 };

  constructor(private readonly opts: ExeInfoOptions, private readonly compute = computeExeInfo) {
    this.reads = { running: 0, max: opts.concurrency ?? 2, queue: [] };
  }

  stats(): ExeInfoStats {
    return { ...this.counts };
  }

  /** The file's info (from the cache when its identity is unchanged). */
  async get(path: string): Promise<ExeInfo> {
    let key: string;
    try {
      const s = await this.limited(() => stat(path, { bigint: true }), this.identitySlot);
      // Opening a FIFO blocks until a writer comes: only regular files are read.
      if (!s.isFile()) return { error: 'not a regular file' };
      // The change time too: a file rewritten in place with its size kept and its modification
      // time set back (SetFileTime, touch -d) keeps its index but not its change time.
      key = `${path.toLowerCase()}\0${s.size}\0${s.mtimeNs}\0${s.ctimeNs}\0${s.ino}`;
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
      this.counts.computed++;
      if (info.error !== undefined) this.counts.failed++;
      if (info.error?.includes('hashing cap') === true) this.counts.tooLargeToHash++;
      this.byIdentity.set(key, info);
      const max = this.opts.cacheSize ?? 4096;
      while (this.byIdentity.size > max) this.byIdentity.delete(this.byIdentity.keys().next().value as string);
      return info;
    }, (err: unknown): ExeInfo => {
      // Not cached: the next ask reads the file again. Callers never see a rejection.
      this.counts.failed++;
      return { error: err instanceof Error ? err.message : String(err) };
    }).finally(() => { this.inFlight.delete(key); });
    this.inFlight.set(key, p);
    return p;
  }

  private async limited<T>(job: () => Promise<T>, pool = this.reads): Promise<T> {
    // A freed slot is handed straight to the next waiter, so a newcomer cannot slip in between.
    if (pool.running >= pool.max) await new Promise<void>((resolve) => pool.queue.push(resolve));
    else pool.running++;
    try {
      return await job();
    } finally {
      const next = pool.queue.shift();
      if (next !== undefined) next();
      else pool.running--;
    }
  }
}
