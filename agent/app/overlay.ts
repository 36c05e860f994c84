/**
 * Detection overlays: detection content that comes from somewhere other than the local config file
 * (the signed central policy, for one) and is merged on top of it, at start and at every reload.
 *
 * The seam, for a module that contributes one:
 *
 *   const policy: DetectionOverlay = { name: 'policy', current: ({ loaded }) => lastGoodBundle };
 *   const agent = await startAgent(startup, env, tty, { overlays: [policy] });
 *   // later, when a new bundle verified:
 *   const result = await agent.reload('policy 2026-12-07.1');
 *
 * `current` is asked at start-up and at each reload, after the local config and rule files
 * validated, and is given that (new) config, so a provider can follow a change of its own settings.
 * It returns plain, already validated data (a provider validates and verifies before it hands a
 * bundle out; the running agent carries no zod or YAML parser), or undefined for "nothing now".
 * If it throws a ConfigError, the start fails or the reload is refused like a broken local config
 * (the agent keeps the detection it has). The merge (mergeOverlays) is, per overlay in list order:
 * rules are added and replace a local rule with the same id; allowlist entries and sensitive ports
 * are appended (a sensitive port of the same transport+port replaces the local one, as in the
 * config); disabled rule ids are added to `detect.disabled_rules`. `version` is reported in the
 * `config_reloaded` event, the status file and the heartbeat (the overlay named `policy` is
 * `policy.version` there).
 */
import type { AllowEntry, DetectConfig, SensitivePortConfig } from '../detect/config.js';
import type { RuleSource } from '../detect/rules.js';
import type { LoadedConfig } from './config.js';

/** What one overlay contributes; every list may be empty. */
export interface OverlayBundle {
  /** Shown in events and status (a policy version, a bundle digest ...). */
  version: string;
  rules: readonly RuleSource[];
  allowlist: readonly AllowEntry[];
  sensitivePorts: readonly SensitivePortConfig[];
  disabledRules: readonly string[];
}

/** A provider of detection content merged over the local config; see the module comment. */
export interface DetectionOverlay {
  /** Unique among overlays; `policy` is the central policy's. */
  readonly name: string;
  current(ctx: { loaded: LoadedConfig }): OverlayBundle | undefined | Promise<OverlayBundle | undefined>;
}

/** The bundles in effect, by overlay name (for events and status). */
export type OverlayVersions = Record<string, string>;

export interface MergedDetection {
  detect: DetectConfig;
  rules: RuleSource[];
  versions: OverlayVersions;
}

/** Asks every overlay for its bundle, in list order. A ConfigError from one propagates. */
export async function collectOverlays(overlays: readonly DetectionOverlay[], loaded: LoadedConfig): Promise<[string, OverlayBundle][]> {
  const out: [string, OverlayBundle][] = [];
  for (const o of overlays) {
    const b = await o.current({ loaded });
    if (b !== undefined) out.push([o.name, b]);
  }
  return out;
}

/** Merges the bundles over the local detection settings and rules (pure; see the module comment). */
export function mergeOverlays(detect: DetectConfig, rules: readonly RuleSource[], bundles: readonly [string, OverlayBundle][]): MergedDetection {
  let merged = { ...detect };
  let all = [...rules];
  const versions: OverlayVersions = {};
  for (const [name, b] of bundles) {
    const ids = new Set(b.rules.map((r) => r.spec.id));
    all = [...all.filter((r) => !ids.has(r.spec.id)), ...b.rules];
    // The catalogue takes the first entry of a transport+port: the bundle's replaces the local one.
    const taken = new Set(b.sensitivePorts.flatMap((e) => e.ports.map((p) => `${e.transport}/${p}`)));
    const kept = merged.sensitive_ports
      .map((e) => ({ ...e, ports: e.ports.filter((p) => !taken.has(`${e.transport}/${p}`)) }))
      .filter((e) => e.ports.length > 0);
    merged = {
      ...merged,
      allowlist: [...merged.allowlist, ...b.allowlist],
      sensitive_ports: [...kept, ...b.sensitivePorts],
      disabled_rules: [...new Set([...merged.disabled_rules, ...b.disabledRules])],
    };
    versions[name] = b.version;
  }
  return { detect: merged, rules: all, versions };
}
