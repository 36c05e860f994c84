/**
 * Memory housekeeping of a collector around its bursts of work (the first scan of a busy host,
 * thousands of listeners coming or going). What it does (V8's burst settings, an early heap
 * reduction, C-heap trims after V8's major GCs) is the agent process's tuning, so it lives above the
 * sources: `agent/runtime/memory-housekeeping.ts`, injected by `agent/app/context.ts`.
 */
export interface MemoryHousekeeping {
  /** A burst began. `withV8Settings`: the one-off scan of many processes (V8's burst settings). */
  burst(withV8Settings: boolean): void;
  /** Whether a burst's follow-up is still due. */
  readonly pending: boolean;
  /** Ends the open burst once its work is done. */
  settle(): void;
  /** Starts what runs between bursts (e.g. trims after major GCs). */
  watch(): void;
  shutdown(): void;
}

/** Creates a collector's housekeeping; `trimMemory` hands the C heap's free pages back, where the collector can. */
export type MakeHousekeeping = (trimMemory: (() => void) | undefined) => MemoryHousekeeping;

/**
 * Without the runtime's (a collector built outside the agent, as tests do): bursts are tracked and
 * the C heap is trimmed when one settles; V8 is left as it is.
 */
export const basicHousekeeping: MakeHousekeeping = (trimMemory) => {
  let open = false;
  return {
    burst: () => { open = true; },
    get pending() { return open; },
    settle: () => {
      if (!open) return;
      open = false;
      trimMemory?.();
    },
    watch: () => undefined,
    shutdown: () => undefined,
  };
};
