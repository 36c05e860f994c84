/**
 * Memory housekeeping of the collector around bursts of work (the first scan of a busy host,
 * thousands of listeners coming or going) and after V8's major GCs. The collector knows only the
 * interface (agent/sources/housekeeping.ts); agent/app/context.ts injects this implementation.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';
import type { MakeHousekeeping, MemoryHousekeeping } from '../sources/housekeeping.js';
import { beginBurst, endBurst, reduceHeap } from './v8-flags.js';

/** Shortest time between two hand-backs of the C heap's free pages (glibc malloc_trim). */
const TRIM_MIN_GAP_MS = 10_000;

export class RuntimeHousekeeping implements MemoryHousekeeping {
  /** A burst whose follow-up (settle) is due. */
  private open = false;
  private lastTrim = 0;
  private gcWatch: PerformanceObserver | undefined;
  private trimTimer: NodeJS.Timeout | undefined;

  /** `trimMemory`: glibc malloc_trim through the collector's addon; undefined without it. */
  constructor(private readonly trimMemory: (() => void) | undefined) {}

  /** A burst began. `withV8Settings`: the one-off scan of many processes (V8's burst settings, v8-flags.ts). */
  burst(withV8Settings: boolean): void {
    this.open = true;
    if (withV8Settings) beginBurst();
  }

  /** Whether a burst's follow-up is still due. */
  get pending(): boolean {
    return this.open;
  }

  /**
   * Ends the open burst once its work is done (the poll after the last pending record was
   * completed): V8's settings are restored and V8 compacts its heap now (reduceHeap) instead of
   * 15-45 s later; that major GC is followed by a trim (watch). Without the heap reduction the C
   * heap is trimmed here.
   */
  settle(): void {
    if (!this.open) return;
    this.open = false;
    endBurst();
    if (!reduceHeap()) this.trimMemory?.();
  }

  /**
   * Buffers (documents on their way to the outputs) live in the C heap and are freed when V8's
   * major GC finalizes them; glibc keeps the freed pages. A second after a major GC they are handed
   * back: 10 of 15 MB of C heap on the 2,000-listener bench host. At most one trim per
   * TRIM_MIN_GAP_MS; a GC inside the gap moves the trim to the gap's end instead of dropping it
   * (start-up has several major GCs; V8's memory reduction, the one that frees most, comes last).
   */
  watch(): void {
    if (this.trimMemory === undefined || this.gcWatch !== undefined) return;
    this.gcWatch = new PerformanceObserver((list) => {
      const major = list.getEntries().some((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      if (!major || this.trimTimer !== undefined) return;
      const wait = Math.max(1000, this.lastTrim + TRIM_MIN_GAP_MS - Date.now());
      this.trimTimer = setTimeout(() => {
        this.trimTimer = undefined;
        this.lastTrim = Date.now();
        this.trimMemory?.();
      }, wait).unref();
    });
    this.gcWatch.observe({ entryTypes: ['gc'] });
  }

  shutdown(): void {
    this.gcWatch?.disconnect();
    this.gcWatch = undefined;
    clearTimeout(this.trimTimer);
    this.trimTimer = undefined;
  }
}

/** What agent/app/context.ts gives the collector. */
export const runtimeHousekeeping: MakeHousekeeping = (trimMemory) => new RuntimeHousekeeping(trimMemory);
