/**
 * Reload in place (SIGHUP, `portwarden reload`, an overlay's new bundle): re-reads the config and
 * rule files in the start-up worker, asks the overlays, builds everything new first (detection
 * engine, changed outputs) and only then applies it, so a reload is all or nothing. The process
 * table, the listener set and the spool are never touched; outputs whose settings changed are
 * drained and restarted, added ones started, removed ones drained; settings only a restart can
 * change are reported and left as they are.
 */
import type { AgentEventFactory, EcsDocument } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { Logger } from '../log/logger.js';
import type { DeliveryPipeline, PipelineOptions } from '../pipeline/index.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import type { WatcherOptions } from '../watch/watcher.js';
import type { LoadedConfig } from './config.js';
import type { DetectionSlot } from './detection-slot.js';
import { collectOverlays, mergeOverlays } from './overlay.js';
import type { DetectionOverlay, MergedDetection, OverlayVersions } from './overlay.js';
import { planReload } from './reload-plan.js';
import { prepareStartupIsolated } from './startup-isolated.js';
import type { Startup } from './startup.js';

/** The outcome of one reload, as the event, the log and `portwarden reload` report it. */
export type ReloadResult =
  | {
    kind: 'applied';
    reason: string;
    /** Key paths applied (`detect`, `outputs.siem`, ...); empty when nothing changed. */
    applied: string[];
    /** Key paths that changed but keep their running value until a restart. */
    restartRequired: string[];
    outputsRestarted: string[];
    outputsAdded: string[];
    outputsRemoved: string[];
    rules: number;
    overlays: OverlayVersions;
  }
  | { kind: 'refused'; reason: string; file: string; keyPath: string; expected: string };

/** What the agent runs on now; replaced as a whole by a reload that applies. */
export interface LiveConfig {
  loaded: LoadedConfig;
  merged: MergedDetection;
}

export interface ReloadTarget {
  /** The --config the agent was started with (undefined: the embedded default). */
  configFile: string | undefined;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  overlays: readonly DetectionOverlay[];
  live: LiveConfig;
  detection: DetectionSlot;
  pipeline: DeliveryPipeline;
  /** The watcher's options object: it reads `shipProcesses` and `processFilter` at each event. */
  watch: WatcherOptions;
  /** Creates the transports of the given outputs of `loaded` (not started). */
  createOutputs(loaded: LoadedConfig, names: readonly string[]): Promise<PipelineOptions['outputs']>;
  /** Re-creates the scheduled tasks (inventory) from `loaded`. */
  reschedule(loaded: LoadedConfig): Promise<void>;
  agentEvent: AgentEventFactory;
  accept(doc: EcsDocument): Promise<void>;
}

/** Reads the config and rule files, overlays merged; the local reads in the start-up worker. */
export async function readDetectionInputs(startup: Startup, overlays: readonly DetectionOverlay[]): Promise<LiveConfig> {
  const bundles = await collectOverlays(overlays, startup.loaded);
  return { loaded: startup.loaded, merged: mergeOverlays(startup.loaded.config.detect, startup.rules, bundles) };
}

async function refuse(t: ReloadTarget, reason: string, err: unknown): Promise<ReloadResult> {
  const e = err instanceof ConfigError ? err : new ConfigError(t.live.loaded.file, '', errorMessage(err), err);
  t.logger.error(`reload (${reason}) refused; the agent keeps running on the previous config: ${e.message}`, { file: e.file, key_path: e.keyPath });
  await t.accept(t.agentEvent({
    action: Action.configReloadFailed, severity: 47,
    message: `portwarden config reload refused (${e.file}: ${e.keyPath === '' ? '(top level)' : e.keyPath}); still running on the previous config`,
    fields: { portwarden: { reload: { reason, outcome: 'refused', file: e.file, key_path: e.keyPath, expected: e.expected } } },
  }));
  return { kind: 'refused', reason, file: e.file, keyPath: e.keyPath, expected: e.expected };
}

/** One reload; the caller serialises them. Resolves with what happened, never rejects for bad config. */
export async function reloadAgent(t: ReloadTarget, reason: string): Promise<{ result: ReloadResult; live: LiveConfig }> {
  let next: LiveConfig;
  let engine: ReturnType<DetectionSlot['build']>;
  let plan: ReturnType<typeof planReload>;
  let outputs: PipelineOptions['outputs'];
  try {
    // Everything new is built before anything is applied: a failure here changes nothing.
    next = await readDetectionInputs(await prepareStartupIsolated(t.configFile, t.env), t.overlays);
    plan = planReload(t.live.loaded, next.loaded, t.live.merged, next.merged);
    engine = plan.detection ? t.detection.build(next.merged, next.loaded.file) : undefined;
    outputs = await t.createOutputs(next.loaded, [...plan.outputs, ...plan.added]);
  } catch (err) {
    return { result: await refuse(t, reason, err), live: t.live };
  }
  // Restart-only keys keep their running values; the rest of the new config is what runs now.
  const live: LiveConfig = { loaded: keepRestartOnly(t.live.loaded, next.loaded, plan.restartRequired), merged: next.merged };
  if (plan.detection) {
    await t.detection.install(engine, next.merged);
    // Without an engine the watcher skips detection work altogether.
    if (engine === undefined) delete t.watch.detect;
    else t.watch.detect = (doc) => t.detection.evaluate(doc);
  }
  if (plan.events) {
    t.watch.shipProcesses = next.loaded.config.events.process;
    t.watch.processFilter = next.loaded.config.events.process_filter;
    t.watch.connections = next.loaded.config.events.connections;
  }
  for (const out of outputs) {
    if (plan.added.includes(out.name)) {
      t.logger.info(`reload: adding output ${out.name}`);
      await t.pipeline.addOutput(out.name, out.config, out.transport);
    } else {
      t.logger.info(`reload: draining and restarting output ${out.name}`);
      await t.pipeline.replaceOutput(out.name, out.config, out.transport);
    }
  }
  for (const name of plan.removed) {
    t.logger.info(`reload: draining and removing output ${name}`);
    await t.pipeline.removeOutput(name);
  }
  if (plan.inventory) await t.reschedule(live.loaded);
  if (plan.heartbeat) await t.pipeline.setHeartbeat(next.loaded.config.heartbeat);
  const result: ReloadResult = {
    kind: 'applied', reason, applied: plan.applied, restartRequired: plan.restartRequired,
    outputsRestarted: plan.outputs, outputsAdded: plan.added, outputsRemoved: plan.removed, rules: t.detection.current.rules, overlays: next.merged.versions,
  };
  const what = plan.applied.length === 0 ? 'nothing changed' : `applied ${plan.applied.join(', ')}`;
  const later = plan.restartRequired.length === 0 ? '' : `; needs a restart to change: ${plan.restartRequired.join(', ')}`;
  (plan.restartRequired.length === 0 ? t.logger.info.bind(t.logger) : t.logger.warn.bind(t.logger))(`reload (${reason}): ${what}${later}`);
  await t.accept(t.agentEvent({
    action: Action.configReloaded,
    ...(plan.restartRequired.length > 0 ? { severity: 47 } : {}),
    message: `portwarden config reloaded (${reason}): ${what}${later}`,
    fields: {
      portwarden: {
        reload: {
          reason, outcome: 'applied', applied: plan.applied, restart_required: plan.restartRequired,
          outputs_restarted: result.outputsRestarted, outputs_added: plan.added, outputs_removed: plan.removed, rules: result.rules, overlays: next.merged.versions,
        },
      },
    },
  }));
  return { result, live };
}

/** The new config with every restart-only top-level key as it runs now. */
function keepRestartOnly(running: LoadedConfig, next: LoadedConfig, restartRequired: readonly string[]): LoadedConfig {
  const cfg = { ...next.config } as Record<string, unknown>;
  const old = running.config as Record<string, unknown>;
  for (const key of restartRequired) cfg[key] = old[key];
  return { ...next, config: cfg as LoadedConfig['config'] };
}
