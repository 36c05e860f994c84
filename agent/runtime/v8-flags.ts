/** V8 settings the agent changes at run time, and whether the operator already chose them. */
import { setFlagsFromString } from 'node:v8';
import { loadNativeAddon } from '../util/native-addon.js';

/**
 * Whether a flag matching `name` (e.g. /semi-space-growth-factor/) is on the node command line or in
 * NODE_OPTIONS, with or without `no-`, `-` or `_` spelling.
 */
export function operatorSetFlag(name: RegExp, execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const flag = new RegExp(`^--(?:no-)?(?:${name.source})(?:=|$)`);
  const args = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  return args.some((a) => flag.test(a.replaceAll('_', '-')));
}

const BURST_FLAGS = /opt|turbofan|max-opt|parallel-scavenge/;
let inBurst = false;

/**
 * V8 settings for a burst of one-off work, the first scan of a busy host (every process and socket
 * walked once), measured on the 2,000-listener bench host (cold first poll, medians of 7):
 * - no optimizing compiler (`--no-opt`): TurboFan compiled the scan's loops on a background thread,
 *   40-70 ms of a 210-240 ms poll, for code that mostly runs once;
 * - scavenges on the main thread alone (`--no-parallel-scavenge`): with the agent's 1 MiB young
 *   generation, sharing each of the scan's ~30 scavenges with helper threads cost 20 ms more than
 *   doing it alone.
 * endBurst() restores both; steady polls are optimized as before. An operator's own flag for either
 * on the node command line or in NODE_OPTIONS leaves V8 as configured. Returns whether it applied.
 */
export function beginBurst(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS): boolean {
  if (inBurst || operatorSetFlag(BURST_FLAGS, execArgv, nodeOptions)) return false;
  setFlagsFromString('--no-opt');
  setFlagsFromString('--no-parallel-scavenge');
  inBurst = true;
  return true;
}

/** Ends a burst begun by beginBurst(); false when none was open. */
export function endBurst(): boolean {
  if (!inBurst) return false;
  setFlagsFromString('--opt');
  setFlagsFromString('--parallel-scavenge');
  inBurst = false;
  return true;
}

const HEAP_CONTROL = new URL('../../native/heap_control.node', import.meta.url);
let reducer: (() => unknown) | null | undefined;

/**
 * Makes V8 compact its heap and release the freed pages now (native/heap_control.cc), instead of
 * whenever its memory reducer judges the process idle: after the first scan on the 2,000-listener
 * bench host that was 15-45 s later, with 35 MB more resident meanwhile. A few full GCs, about
 * 50-100 ms of CPU once. False without the addon (not built, or not Linux).
 *
 * V8's memory reducer still runs its own pass once it judges the agent idle (30-65 s after start
 * there: two full GCs that freed under 1 MB after this reduction). Its settings are not changed at
 * run time: `--memory-reducer-single-gc` set while a pass was under way aborted node with a V8 CHECK
 * failure ("memory_reducer_single_gc implies started_gcs() == 0").
 */
export function reduceHeap(): boolean {
  if (reducer === undefined) {
    const fn = loadNativeAddon(HEAP_CONTROL)?.reduceMemory;
    reducer = typeof fn === 'function' ? (fn as () => unknown) : null;
  }
  return reducer?.() === true;
}

/**
 * reduceHeap() once `delayMs` have passed, for a burst whose garbage is left once its documents are
 * with the outputs: the scheduled inventory (every listener as one document) left the agent on the
 * 2,000-listener bench host at 91-100 MB instead of 71-73 MB until V8's own reducer ran, if it did.
 */
export function reduceHeapAfter(delayMs: number, schedule: (fn: () => void, ms: number) => { unref(): unknown } = setTimeout): void {
  schedule(() => { reduceHeap(); }, delayMs).unref();
}
