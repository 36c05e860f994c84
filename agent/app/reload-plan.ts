/**
 * What a reload changes: a pure comparison of the running config with the newly read one, sorted
 * into what is applied in place and what only a restart can change.
 */
import type { Config, LoadedConfig } from './config.js';

/** Top-level keys a running agent cannot change: they are reported and left as they are (outputs can: each is restarted, added or removed). */
export const RESTART_ONLY: readonly (keyof Config)[] = ['state_dir', 'source', 'interval', 'spool', 'metrics', 'log', 'data_stream', 'policy'];

export interface ReloadPlan {
  /** Key paths that differ and are applied (`detect`, `outputs.siem`, `rules` ...). */
  applied: string[];
  /** Key paths that differ but keep their running value until a restart. */
  restartRequired: string[];
  /** Outputs to drain and restart with their new settings (same name, changed settings). */
  outputs: string[];
  /** Outputs new in the config: they get the events accepted from the reload on. */
  added: string[];
  /** Outputs gone from the config: drained, then no longer served. */
  removed: string[];
  detection: boolean;
  events: boolean;
  inventory: boolean;
  heartbeat: boolean;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function outputsByName(l: LoadedConfig): Map<string, unknown> {
  return new Map(l.config.outputs.map((o, i) => [l.outputNames[i] ?? o.type, o]));
}

/**
 * Compares configs; `detectionBefore`/`detectionAfter` are the effective detection inputs (settings,
 * rules and overlays merged), so a changed rule file counts even when the config file did not change.
 */
export function planReload(before: LoadedConfig, after: LoadedConfig, detectionBefore: unknown, detectionAfter: unknown): ReloadPlan {
  const plan: ReloadPlan = {
    applied: [], restartRequired: [], outputs: [], added: [], removed: [], detection: false, events: false, inventory: false, heartbeat: false,
  };
  const a = before.config;
  const b = after.config;
  for (const key of RESTART_ONLY) if (!same(a[key], b[key])) plan.restartRequired.push(key);
  // The kernel program is attached at start: off <-> on needs a restart (alerts <-> all does not).
  if ((a.events.connections === 'off') !== (b.events.connections === 'off')) plan.restartRequired.push('events.connections');
  const oldOut = outputsByName(before);
  const newOut = outputsByName(after);
  for (const name of oldOut.keys()) {
    if (!newOut.has(name)) {
      plan.removed.push(name);
      plan.applied.push(`outputs.${name} (removed)`);
    }
  }
  for (const [name, cfg] of newOut) {
    if (!oldOut.has(name)) {
      plan.added.push(name);
      plan.applied.push(`outputs.${name} (added)`);
    } else if (!same(oldOut.get(name), cfg)) {
      plan.outputs.push(name);
      plan.applied.push(`outputs.${name}`);
    }
  }
  if (!same(a.events, b.events)) { plan.events = true; plan.applied.push('events'); }
  if (!same(a.inventory, b.inventory)) { plan.inventory = true; plan.applied.push('inventory'); }
  if (!same(a.heartbeat, b.heartbeat)) { plan.heartbeat = true; plan.applied.push('heartbeat'); }
  if (!same(detectionBefore, detectionAfter)) {
    plan.detection = true;
    plan.applied.push(same(a.detect, b.detect) ? 'detect (rule files or overlays)' : 'detect');
  }
  return plan;
}
