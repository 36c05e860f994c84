/**
 * The composition root of `portwarden run`: wires sources -> watch -> detect -> pipeline -> outputs
 * and declares, once, the order in which they start and stop (stages.ts).
 */
import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { agentVersion } from '../ecs/agent-info.js';
import { Action } from '../ecs/fields.js';
import { createLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { DeliveryPipeline } from '../pipeline/index.js';
import { reduceHeapAfter } from '../runtime/v8-flags.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { visible } from '../util/terminal-text.js';
import { RelayWatch, relayInterval } from '../watch/relay-watch.js';
import { Watcher } from '../watch/watcher.js';
import type { WatcherOptions } from '../watch/watcher.js';
import type { LoadedConfig } from './config.js';
import { createAgentContext, prepareStateDir } from './context.js';
import { DetectionSlot } from './detection-slot.js';
import type { DetectionOverlay } from './overlay.js';
import { CentralPolicy } from './policy.js';
import { readDetectionInputs, reloadAgent } from './reload.js';
import type { LiveConfig, ReloadResult } from './reload.js';
import { lockStateDir } from './state-lock.js';
import { createOutputs } from './outputs.js';
import { Stages } from './stages.js';
import type { Startup } from './startup.js';
import { healthOf, outputStatus, STATUS_FORMAT, StatusPublisher } from './status.js';
import type { AgentStatus, Health } from './status.js';

/** After a scheduled inventory, the heap is compacted once its documents are with the outputs. */
const INVENTORY_SETTLE_MS = 5_000;
/** `portwarden run` exits 1 if a stop takes longer than this; the agent plans to end 500 ms before. */
export const SHUTDOWN_BUDGET_MS = 5_000;
/**
 * A stop's share for the producers (watchers, detection, the stopped event) to hand what they hold
 * to the spool; past it, a full spool stops waiting for room (Pipeline.release), so that the
 * outputs' drain and the spool's close still fit the budget.
 */
const STOP_HANDOVER_MS = 2_000;

function checkCron(file: string, key: string, expr: string): void {
  if (!cron.validate(expr)) throw new ConfigError(file, key, `a cron schedule (node-cron syntax, e.g. "0 * * * *"), got "${expr}"`);
}

function schedule(file: string, key: string, expr: string, logger: Logger, fn: () => Promise<unknown>): ScheduledTask {
  checkCron(file, key, expr);
  return cron.schedule(expr, async () => {
    try {
      await fn();
    } catch (err) {
      logger.error(`${key} task failed: ${errorMessage(err)}`);
    }
  }, { noOverlap: true, name: key });
}

export interface RunningAgent {
  readonly logger: Logger;
  /**
   * Reload in place (reload.ts): re-reads the config file the agent started with, its rule files
   * and the overlays, and applies what changed; a config that does not validate is refused and the
   * agent runs on. Reloads are serialised; `reason` (SIGHUP, `policy 42` ...) goes into the
   * `config_reloaded` / `config_reload_failed` event. Never rejects for a bad config.
   */
  reload(reason: string): Promise<ReloadResult>;
  /** Stops every stage in reverse start order; `reason` goes into the `stopped` agent event. */
  stop(reason: string): Promise<void>;
  /** Cuts a stop short (a second stop signal): no more waiting for outputs; spool writes in progress still finish. */
  hurry(): void;
  /** The part of the agent whose stop is under way (for the message of a shutdown past its budget). */
  stopping(): string | undefined;
}

/** What the composition root takes besides the start-up data. */
export interface StartOptions {
  /** The --config given to `run` (undefined: the embedded default); reloads read it again. */
  configFile?: string;
  /** Detection content merged over the local config at start and at every reload (overlay.ts). */
  overlays?: readonly DetectionOverlay[];
  /** A stop signal during start-up: stop waiting for the stage starting and start no further one (Stages.start). */
  abort?: AbortSignal;
}

/**
 * Builds and starts the agent from validated start-up data (the config and rule files read by the
 * start-up worker). `workerError` says why validation ran in-process, for the log.
 */
export async function startAgent(startup: Startup & { workerError?: string }, env: NodeJS.ProcessEnv, stderrIsTTY: boolean, opts: StartOptions = {}): Promise<RunningAgent> {
  const { loaded, workerError } = startup;
  const { config } = loaded;
  const format = config.log.format === 'auto' ? (config.log.file === undefined && stderrIsTTY ? 'human' : 'ecs') : config.log.format;
  let logger: Logger;
  try {
    logger = createLogger({ level: config.log.level, file: config.log.file, format });
  } catch (err) {
    throw new ConfigError(loaded.file, 'log.file', `a regular file of the agent's user (or root) that it can append to, not a symlink (${errorMessage(err)})`, err);
  }
  if (workerError !== undefined) logger.warn(`config validated in-process (the start-up worker failed: ${workerError}); about 6 MB more heap for the agent's lifetime`);
  // Before anything touches the state dir: a second agent there would corrupt the spool.
  const stateDir = prepareStateDir(loaded, env);
  const unlock = lockStateDir(stateDir);
  try {
    // On a terminal the ready line is printed even when the log goes to a file or is ECS JSON; a
    // human log on the terminal prints it itself.
    const terminal = stderrIsTTY && !(format === 'human' && config.log.file === undefined);
    return await startLocked(startup, env, logger, { stateDir, unlock }, opts, { human: format === 'human', terminal });
  } catch (err) {
    unlock();
    throw err;
  }
}

/**
 * The line that says the agent is up, after its first poll: `watching N listeners, M processes;
 * outputs: a, b`. Logged (with the counts as fields in the ECS log), and on a terminal whose log
 * goes elsewhere also printed to stderr.
 */
export function readyLine(w: { listeners: number; processes: number }, outputs: readonly string[]): string {
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  return `watching ${n(w.listeners, 'listener', 'listeners')}, ${n(w.processes, 'process', 'processes')}; outputs: ${outputs.join(', ') || 'none'}`;
}

async function startLocked(
  startup: Startup, env: NodeJS.ProcessEnv, logger: Logger, state: { stateDir: string; unlock: () => void }, opts: StartOptions,
  say: { human: boolean; terminal: boolean },
): Promise<RunningAgent> {
  const { unlock } = state;
  // The central policy: its last good bundle is an overlay from the start; new ones come through reload.
  const policyConfig = startup.loaded.config.policy;
  const policy = policyConfig === undefined ? undefined : new CentralPolicy({
    config: policyConfig, configFile: startup.loaded.file, stateDir: state.stateDir, logger, userAgent: `portwarden/${agentVersion()}`,
  });
  await policy?.loadLastGood();
  const overlays = [...(opts.overlays ?? []), ...(policy === undefined ? [] : [policy])];
  let live: LiveConfig = await readDetectionInputs(startup, overlays);
  const { loaded } = live;
  const { config } = loaded;
  const startedMs = Date.now();
  const ctx = await createAgentContext(loaded, logger, env, { hostInWorker: true, realtime: true, preparedStateDir: state.stateDir });
  const { builder, source, stateDir } = ctx;

  const transportCtx = { logger, stateDir, configFile: loaded.file, agentPid: process.pid, hostName: builder.host.name };
  const outputs = await createOutputs(loaded, transportCtx);
  const detection = new DetectionSlot({ configFile: loaded.file, stateDir, builder, logger });
  const firstEngine = detection.build(live.merged, loaded.file);
  const info = source.info();
  const rt = info.realtime;
  let lastReload: (ReloadResult & { at: string }) | undefined;
  const health = (): Health => healthOf({
    startedMs, stats: pipeline.stats(), detection: detection.current, realtime: rt?.mode ?? null, overlays: live.merged.versions, lastReload,
  });
  const pipeline: DeliveryPipeline = new DeliveryPipeline({
    stateDir, spool: config.spool, metrics: config.metrics, heartbeat: config.heartbeat, outputs, logger, agentEvent: builder.agentEvent,
    // Outbound-connection counters (the kernel's, or Windows' connection-table poll: recorded, folded, loopback skipped) ride along.
    // And, once a relay watch look had more candidates than detect.relay.max_per_look, its numbers.
    health: () => {
      const budget = relay.budgetReport();
      const connections = rt?.connections === true ? source.realtime?.()?.connectionStats?.() : source.connectionStats?.();
      return {
        health: health(), ...(connections === undefined ? {} : { collector: { connections } }),
        ...(budget === undefined ? {} : { relay_watch: budget }),
      };
    },
  });
  // Kept by reference: a reload changes shipProcesses, processFilter and detect, which the watcher reads per event.
  const watch: WatcherOptions = {
    source, builder, table: ctx.table, sink: pipeline, logger, intervalMs: config.interval, reconcileIntervalMs: config.source.reconcile_interval,
    shipProcesses: config.events.process, processFilter: config.events.process_filter, connections: config.events.connections,
    ...(firstEngine === undefined ? {} : { detect: (doc) => detection.evaluate(doc) }),
    onFirstPoll: (w) => {
      const names = outputs.map((o) => o.name);
      const line = readyLine(w, names);
      if (say.human) logger.info(line);
      else logger.info(line, { portwarden: { ready: { listeners: w.listeners, processes: w.processes, outputs: names } } });
      if (say.terminal) process.stderr.write(`portwarden: ${visible(line)}\n`);
    },
  };
  const watcher = new Watcher(watch);
  const relay = new RelayWatch({
    source, listeners: () => watcher.current(), table: ctx.table, builder, sink: pipeline, logger, detect: () => watch.detect,
    intervalMs: () => relayInterval(live.merged.detect), maxPerLook: () => live.merged.detect.relay.max_per_look,
  });
  const policyStatus = (): Omit<AgentStatus['policy'], 'version'> => {
    const p = policy?.status();
    if (p === undefined) return {};
    return {
      ...(p.created === undefined ? {} : { created: p.created }), ...(p.appliedAt === undefined ? {} : { applied_at: p.appliedAt }),
      ...(p.lastCheck === undefined ? {} : { last_check: p.lastCheck }), ...(p.lastError === undefined ? {} : { last_error: p.lastError }),
    };
  };
  const status = new StatusPublisher(stateDir, (): AgentStatus => {
    const stats = pipeline.stats();
    const d = detection.current;
    return {
      format: STATUS_FORMAT, state: 'running', pid: process.pid, started: new Date(startedMs).toISOString(), updated: new Date().toISOString(),
      version: builder.agent.version, host: builder.host.name, config_file: live.loaded.file,
      collector: { platform: info.platform, listener_path: info.listenerPath, privileged: info.privileged, realtime: rt?.mode ?? null },
      detection: { enabled: d.enabled, rules: d.rules, disabled_rules: d.disabledRules, allowlist_entries: d.allowlistEntries, sensitive_ports: d.sensitivePorts },
      policy: { version: live.merged.versions.policy ?? null, ...policyStatus() }, overlays: live.merged.versions,
      health: health(), outputs: stats.outputs.map(outputStatus),
      pipeline: {
        accepted: stats.received, dropped: Object.values(stats.dropped).reduce((a: number, b: number) => a + b, 0), lost: stats.lost,
        spool_bytes: stats.spool?.bytes ?? 0, spool_max_bytes: stats.spool?.maxBytes ?? 0,
      },
      last_reload: lastReload ?? null,
    };
  }, logger);
  let stopReason = 'stopped';
  const tasks: ScheduledTask[] = [];
  const scheduled = (l: LoadedConfig): [key: string, expr: string, fn: () => Promise<void>][] => (l.config.inventory.enabled
    ? [['inventory.schedule', l.config.inventory.schedule, async () => {
      await watcher.inventory();
      reduceHeapAfter(INVENTORY_SETTLE_MS);
    }]]
    : []);
  for (const [key, expr] of scheduled(loaded)) checkCron(loaded.file, key, expr);
  const startTasks = (l: LoadedConfig): void => { for (const [key, expr, fn] of scheduled(l)) tasks.push(schedule(l.file, key, expr, logger, fn)); };
  const stopTasks = async (): Promise<void> => { for (const t of tasks.splice(0)) await t.destroy(); };

  /** When a stop under way must be done (pipeline.shutdown's `until`). */
  let stopBy: number | undefined;
  const stages = new Stages([
    { name: 'state lock', start: () => Promise.resolve(), stop: () => { unlock(); return Promise.resolve(); } },
    { name: 'pipeline', start: () => pipeline.start(), stop: () => pipeline.shutdown(stopBy) },
    {
      // The agent's own started/stopped events: the first and the last the pipeline accepts.
      name: 'agent events',
      start: async () => {
        logger.info(`portwarden ${builder.agent.version} watching ${builder.host.name}`, {
          collector: info.platform, listeners: info.listenerPath, processes: info.processPath, outputs: outputs.map((o) => o.name),
          ...(rt === undefined ? {} : { realtime: rt.mode }),
        });
        for (const l of info.limitations) logger.warn(l);
        if (rt !== undefined) {
          const why = rt.reasons.length > 0 ? ` (${rt.reasons.join('; ')})` : '';
          const say = rt.mode === 'ebpf' || rt.requested === 'off' ? logger.info.bind(logger) : logger.warn.bind(logger);
          say(`real-time source: ${rt.mode}${why}`);
          for (const b of rt.blind) logger.info(`real-time source: ${b}`);
        }
        await pipeline.accept(builder.agentEvent({
          action: Action.agentStarted,
          message: `portwarden ${builder.agent.version} started (${info.platform}: ${info.listenerPath}${rt === undefined ? '' : `; real-time: ${rt.mode}`})`,
          ...(info.limitations.length > 0 ? { severity: 21 } : {}),
          fields: {
            portwarden: {
              collector: {
                platform: info.platform, listener_path: info.listenerPath, privileged: info.privileged, limitations: info.limitations,
                ...(rt === undefined ? {} : { realtime: { mode: rt.mode, requested: rt.requested, reasons: rt.reasons, blind: rt.blind, connections: rt.connections === true } }),
              },
            },
          },
        }));
      },
      // Bounded: on a full disk with nothing left to free the event cannot be written, and the
      // pipeline must still stop within the agent's 5 s.
      stop: () => new Promise<void>((resolve) => {
        const ms = Math.max(100, Math.min(1000, (stopBy ?? Number.POSITIVE_INFINITY) - 1000 - Date.now()));
        let late = false;
        const timer = setTimeout(() => { late = true; logger.warn(`the stopped event could not be written in ${ms} ms (spool full?)`); resolve(); }, ms);
        timer.unref();
        const done = (): void => { clearTimeout(timer); resolve(); };
        pipeline.accept(builder.agentEvent({ action: Action.agentStopped, message: `portwarden stopped (${stopReason})` })).then(done, (err: unknown) => {
          if (!late) logger.warn(`the stopped event could not be written: ${errorMessage(err)}`);
          done();
        });
      }),
    },
    { name: 'detection', start: () => detection.install(firstEngine, live.merged), stop: () => detection.shutdown() },
    { name: 'watch', start: () => watcher.start(), stop: () => watcher.shutdown() },
    { name: 'relay watch', start: () => relay.start(), stop: () => relay.shutdown() },
    { name: 'schedules', start: () => { startTasks(loaded); return Promise.resolve(); }, stop: stopTasks },
    { name: 'status', start: () => status.start(), stop: () => status.stop() },
    {
      // Last to start, first to stop: a bundle fetched is applied through the reload path below.
      name: 'policy',
      start: () => policy?.start({ reload: (reason) => running.reload(reason), agentEvent: builder.agentEvent, accept: (doc) => pipeline.accept(doc) }) ?? Promise.resolve(),
      stop: () => policy?.stop() ?? Promise.resolve(),
    },
  ]);

  let stopping = false;
  let reloads: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (reason: string): Promise<ReloadResult> => {
    const { result, live: next } = await reloadAgent({
      configFile: opts.configFile, env, logger, overlays, live, detection, pipeline, watch,
      createOutputs: (l, names) => createOutputs(l, transportCtx, names),
      // A reload still under way when the agent stops starts no schedule (it would keep the process alive).
      reschedule: async (l) => { await stopTasks(); if (!stopping) startTasks(l); },
      agentEvent: builder.agentEvent,
      accept: (doc) => pipeline.accept(doc),
    }, reason);
    live = next;
    lastReload = { ...result, at: new Date().toISOString() };
    await status.publish();
    return result;
  };
  const running: RunningAgent = {
    logger,
    reload(reason) {
      const run = reloads.then(() => {
        if (stopping) throw new Error('the agent is stopping');
        return reloadOnce(reason);
      });
      reloads = run.catch(() => undefined);
      return run;
    },
    hurry() { pipeline.hurry(); },
    async stop(reason) {
      stopping = true;
      stopReason = reason;
      stopBy ??= Date.now() + SHUTDOWN_BUDGET_MS - 500;
      const release = setTimeout(() => { pipeline.release(); watcher.abandon(); }, STOP_HANDOVER_MS);
      release.unref();
      try {
        await stages.stop((name, ms) => { logger.debug(`stopped ${name} in ${ms} ms`); });
      } finally {
        clearTimeout(release);
      }
    },
    stopping: () => stages.stopping,
  };
  await stages.start(opts.abort);
  return running;
}
