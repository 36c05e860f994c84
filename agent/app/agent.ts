/**
 * The composition root of `portwarden run`: wires sources -> watch -> detect -> pipeline -> outputs
 * and declares, once, the order in which they start and stop (stages.ts).
 */
import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { createAgentEngine } from '../detect/agent-engine.js';
import { buildRule } from '../detect/rules.js';
import { Action } from '../ecs/fields.js';
import { createLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { createPipeline } from '../pipeline/index.js';
import { reduceHeapAfter } from '../runtime/v8-flags.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { visible } from '../util/terminal-text.js';
import { Watcher } from '../watch/watcher.js';
import { createAgentContext, prepareStateDir } from './context.js';
import { lockStateDir } from './state-lock.js';
import { createOutputs } from './outputs.js';
import { Stages } from './stages.js';
import type { Startup } from './startup.js';

/** After a scheduled inventory, the heap is compacted once its documents are with the outputs. */
const INVENTORY_SETTLE_MS = 5_000;

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
  /** Stops every stage in reverse start order; `reason` goes into the `stopped` agent event. */
  stop(reason: string): Promise<void>;
}

/**
 * Builds and starts the agent from validated start-up data (the config and rule files read by the
 * start-up worker). `workerError` says why validation ran in-process, for the log.
 */
export async function startAgent(startup: Startup & { workerError?: string }, env: NodeJS.ProcessEnv, stderrIsTTY: boolean): Promise<RunningAgent> {
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
  const unlock = lockStateDir(prepareStateDir(loaded, env));
  try {
    // On a terminal the ready line is printed even when the log goes to a file or is ECS JSON; a
    // human log on the terminal prints it itself.
    const terminal = stderrIsTTY && !(format === 'human' && config.log.file === undefined);
    return await startLocked(startup, env, logger, unlock, { human: format === 'human', terminal });
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
  startup: Startup, env: NodeJS.ProcessEnv, logger: Logger, unlock: () => void, say: { human: boolean; terminal: boolean },
): Promise<RunningAgent> {
  const { loaded, rules } = startup;
  const { config } = loaded;
  const ctx = await createAgentContext(loaded, logger, env, { hostInWorker: true, realtime: true });
  const { builder, source, stateDir } = ctx;

  const outputs = await createOutputs(loaded, {
    logger, stateDir, configFile: loaded.file, agentPid: process.pid, hostName: builder.host.name,
  });
  const detection = config.detect.enabled
    ? createAgentEngine({ config: config.detect, configFile: loaded.file, stateDir, builder, logger, rules: rules.map(buildRule) })
    : undefined;
  const pipeline = createPipeline({
    stateDir, spool: config.spool, metrics: config.metrics, heartbeat: config.heartbeat, outputs, logger, agentEvent: builder.agentEvent,
  });
  const watcher = new Watcher({
    source, builder, table: ctx.table, sink: pipeline, logger, intervalMs: config.interval, reconcileIntervalMs: config.source.reconcile_interval,
    shipProcesses: config.events.process, processFilter: config.events.process_filter,
    ...(detection === undefined ? {} : { detect: (doc) => detection.evaluate(doc) }),
    onFirstPoll: (w) => {
      const names = outputs.map((o) => o.name);
      const line = readyLine(w, names);
      if (say.human) logger.info(line);
      else logger.info(line, { portwarden: { ready: { listeners: w.listeners, processes: w.processes, outputs: names } } });
      if (say.terminal) process.stderr.write(`portwarden: ${visible(line)}\n`);
    },
  });
  const info = source.info();
  const rt = info.realtime;
  let stopReason = 'stopped';
  const schedules: [key: string, expr: string, fn: () => Promise<void>][] = config.inventory.enabled
    ? [['inventory.schedule', config.inventory.schedule, async () => {
      await watcher.inventory();
      reduceHeapAfter(INVENTORY_SETTLE_MS);
    }]]
    : [];
  for (const [key, expr] of schedules) checkCron(loaded.file, key, expr);
  const tasks: ScheduledTask[] = [];

  const stages = new Stages([
    { name: 'state lock', start: () => Promise.resolve(), stop: () => { unlock(); return Promise.resolve(); } },
    { name: 'pipeline', start: () => pipeline.start(), stop: () => pipeline.shutdown() },
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
                ...(rt === undefined ? {} : { realtime: { mode: rt.mode, requested: rt.requested, reasons: rt.reasons, blind: rt.blind } }),
              },
            },
          },
        }));
      },
      // Bounded: on a full disk with nothing left to free the event cannot be written, and the
      // pipeline must still stop within the agent's 5 s.
      stop: () => Promise.race([
        pipeline.accept(builder.agentEvent({ action: Action.agentStopped, message: `portwarden stopped (${stopReason})` })),
        new Promise<void>((resolve) => { setTimeout(() => { logger.warn('the stopped event could not be written in 1 s (spool full?)'); resolve(); }, 1000).unref(); }),
      ]),
    },
    { name: 'detection', start: async () => { await detection?.start(); }, stop: async () => { await detection?.shutdown(); } },
    { name: 'watch', start: () => watcher.start(), stop: () => watcher.shutdown() },
    {
      name: 'schedules',
      start: () => {
        for (const [key, expr, fn] of schedules) tasks.push(schedule(loaded.file, key, expr, logger, fn));
        return Promise.resolve();
      },
      stop: async () => { for (const t of tasks.splice(0)) await t.destroy(); },
    },
  ]);
  await stages.start();
  return {
    logger,
    async stop(reason) {
      stopReason = reason;
      await stages.stop();
    },
  };
}
