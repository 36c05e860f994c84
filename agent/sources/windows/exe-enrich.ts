import { computeExeInfo, ExeInfoCache, type ExeInfo, type ExeInfoOptions } from '../pe/exe-info.js';
import type { ExeFields, WindowsProcessTable } from './process-table.js';

/** Defaults: all four hashes (what the Sigma field table promises), files up to 100 MiB hashed. */
export const DEFAULT_EXE_INFO: ExeInfoOptions = { hashes: ['md5', 'sha1', 'sha256', 'imphash'], maxHashBytes: 100 * 1024 * 1024 };

interface Job {
  pid: number; startKey: string; since: number; result?: ExeInfo; promise: Promise<ExeInfo>;
  /** Released without its fields (read too slow); they are added to the record when the read ends. */
  released?: boolean;
}

/**
 * PE version strings, import hash and file hashes for every process's executable. Work starts as
 * soon as a process is listed and runs beside the poll's PowerShell round trip; the poll waits at
 * most `waitMs` for it. A process whose file is still being read is held (`detailsPending`) so its
 * start event and detection carry the fields; after `giveUpMs` it is released without them, and
 * they are added to its record when the read ends.
 */
export class ExeEnricher {
  private readonly cache: ExeInfoCache;
  private readonly jobs = new Map<string, Job>();
  private done = new Set<string>();
  /** Jobs started since the last settle: the only ones a poll waits for. */
  private fresh: Promise<ExeInfo>[] = [];

  constructor(opts: ExeInfoOptions, private readonly waitMs = 1000, private readonly giveUpMs = 30_000, compute?: typeof computeExeInfo) {
    this.cache = new ExeInfoCache(opts, compute);
  }

  stats(): ReturnType<ExeInfoCache['stats']> {
    return this.cache.stats();
  }

  /** Starts reading the executables of processes not seen before. */
  start(table: WindowsProcessTable): void {
    for (const rec of table.snapshot().values()) {
      const key = `${rec.pid}/${rec.startKey}`;
      if (rec.executable === undefined || rec.pid <= 4 || this.done.has(key) || this.jobs.has(key)) continue;
      const job: Job = { pid: rec.pid, startKey: rec.startKey, since: Date.now(), promise: this.cache.get(rec.executable) };
      void job.promise.then((r) => { job.result = r; });
      this.jobs.set(key, job);
      this.fresh.push(job.promise);
    }
  }

  /** Waits (bounded) for the jobs, applies the results, holds the rest. */
  async settle(table: WindowsProcessTable): Promise<void> {
    // Only this poll's new files are waited for: a big file still being hashed from an earlier poll
    // does not slow every poll after it.
    const fresh = this.fresh;
    this.fresh = [];
    if (fresh.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const wait = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.waitMs); });
      await Promise.race([Promise.allSettled(fresh), wait]);
      clearTimeout(timer);
      // Let the `then` callbacks above record the results that just came in.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const now = Date.now();
    for (const [key, job] of this.jobs) {
      const rec = table.get(job.pid);
      if (rec?.startKey !== job.startKey) {
        this.jobs.delete(key);
        continue;
      }
      if (job.released === true) {
        // Its event went out without them; later listener events and alerts about it carry them.
        if (job.result !== undefined) {
          table.enrich(job.pid, exeFields(job.result));
          this.jobs.delete(key);
        }
      } else if (job.result !== undefined || now - job.since > this.giveUpMs) {
        table.enrich(job.pid, job.result === undefined ? {} : exeFields(job.result), true);
        if (job.result === undefined) job.released = true;
        else this.jobs.delete(key);
        this.done.add(key);
      } else {
        table.markPending(job.pid);
      }
    }
    // Forget processes that are gone.
    const live = new Set<string>();
    for (const rec of table.snapshot().values()) live.add(`${rec.pid}/${rec.startKey}`);
    this.done = new Set([...this.done].filter((k) => live.has(k)));
  }
}

/** The record fields an ExeInfo gives. */
export function exeFields(info: ExeInfo): ExeFields {
  const out: ExeFields = {};
  const v = info.version;
  if (v?.originalFileName !== undefined) out.originalFileName = v.originalFileName;
  const pe: NonNullable<ExeFields['pe']> = {};
  if (v?.description !== undefined) pe.description = v.description;
  if (v?.product !== undefined) pe.product = v.product;
  if (v?.company !== undefined) pe.company = v.company;
  if (v?.fileVersion !== undefined) pe.fileVersion = v.fileVersion;
  if (info.imphash !== undefined) pe.imphash = info.imphash;
  if (Object.keys(pe).length > 0) out.pe = pe;
  if (info.md5 !== undefined) out.md5 = info.md5;
  if (info.sha1 !== undefined) out.sha1 = info.sha1;
  if (info.sha256 !== undefined) out.sha256 = info.sha256;
  return out;
}
