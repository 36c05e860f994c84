/**
 * Heap tuning for the long-running agent (V8's young generation, glibc's malloc arenas). bin.ts
 * imports this module before anything else.
 *
 * The agent works in short bursts (one poll per interval, a large first scan) and idles between
 * them. V8 answers a burst by doubling the young generation up to 2 x 16 MiB and keeps it for tens
 * of seconds, which made up about a third of the agent's RSS on a host with 2,000 listeners
 * (bench/linux-collector.bench.ts). Keeping the young generation at its initial 2 x 1 MiB costs more
 * frequent, cheap scavenges; the pipeline bench measured 10-25 % lower peak spool throughput, far
 * above what a host produces.
 *
 * `--semi-space-growth-factor` is read each time V8 considers growing the young generation, so it
 * takes effect when set at run time. An operator's own choice wins: any semi-space flag in the node
 * command line or NODE_OPTIONS leaves V8 as configured (e.g. NODE_OPTIONS=--semi-space-growth-factor=2
 * restores the default growth).
 */
import { setFlagsFromString } from 'node:v8';
import { loadSockDiag } from '../sources/linux/sock-diag.js';
import type { SockDiag } from '../sources/linux/sock-diag.js';
import { operatorSetFlag } from './v8-flags.js';

/**
 * glibc gives each thread that allocates its own malloc arena (up to 8 per core), and V8's and
 * libuv's worker threads keep a few MB each after the first scan: 13 of the 96 MB RSS of the agent
 * on the 2,000-listener bench host. Two shared arenas kept 7 MB. The cap is set through mallopt as
 * the agent starts, before the workers' first task; MALLOC_ARENA_MAX in the environment wins.
 */
export const MALLOC_ARENAS = 2;

/** Whether the operator already chose how the young generation sizes. */
export function operatorChoseSemiSpace(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return operatorSetFlag(/max-semi-space-size|min-semi-space-size|semi-space-growth-factor/, execArgv, nodeOptions);
}

/** Applies the agent's young-generation setting unless the operator chose one; returns whether it did. */
export function tuneHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS): boolean {
  if (operatorChoseSemiSpace(execArgv, nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

/** Caps glibc's malloc arenas (Linux, with the native addon) unless MALLOC_ARENA_MAX is set; returns whether it did. */
export function limitMallocArenas(env: NodeJS.ProcessEnv = process.env, diag: SockDiag | undefined = loadSockDiag()): boolean {
  if (env.MALLOC_ARENA_MAX !== undefined) return false;
  return diag?.limitArenas(MALLOC_ARENAS) ?? false;
}

tuneHeap();
limitMallocArenas();
