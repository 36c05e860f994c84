/**
 * V8 heap tuning for the long-running agent. bin.ts imports this module before anything else.
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

const SEMI_SPACE_FLAG = /^--(?:max-semi-space-size|min-semi-space-size|semi-space-growth-factor)(?:=|$)/;

/** Whether the operator already chose how the young generation sizes. */
export function operatorChoseSemiSpace(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const args = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  return args.some((a) => SEMI_SPACE_FLAG.test(a.replaceAll('_', '-')));
}

/** Applies the agent's young-generation setting unless the operator chose one; returns whether it did. */
export function tuneHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS): boolean {
  if (operatorChoseSemiSpace(execArgv, nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

tuneHeap();
