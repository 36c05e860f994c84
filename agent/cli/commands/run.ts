import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { createAgentEngine } from '../../detect/agent-engine.js';
import { buildRule } from '../../detect/rules.js';
import { Action } from '../../ecs/fields.js';
import { createLogger } from '../../log/logger.js';
import type { Logger } from '../../log/logger.js';
import { createPipeline, createTransports } from '../../pipeline/index.js';
import { ConfigError, errorMessage } from '../../util/errors.js';
import { reduceHeapAfter } from '../../util/v8-flags.js';
import { Watcher } from '../../watch/watcher.js';
import { createAgentContext } from '../bootstrap.js';
import { parseCommandArgs } from '../command.js';
import { prepareStartupIsolated } from '../startup-isolated.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden run [--config FILE]

Runs the agent in the foreground: polls listeners and processes, raises alerts, and ships ECS
events to the configured outputs through the durable spool. Without --config: the embedded
default (watch this host every 1s, print events on stdout).
SIGINT/SIGTERM: stop collecting, flush, exit 0 within 5 s.`;

const SHUTDOWN_BUDGET_MS = 5_000;
/** After a scheduled inventory, the heap is compacted once its documents are with the outputs. */
const INVENTORY_SETTLE_MS = 5_000;

function schedule(file: string, key: string, expr: string, logger: Logger, fn: () => Promise<unknown>): ScheduledTask {
  if (!cron.validate(expr)) throw new ConfigError(file, key, `a cron schedule (node-cron syntax, e.g. "0 * * * *"), got "${expr}"`);
  const task = cron.schedule(expr, async () => {
    try {
      await fn();
    } catch (err) {
      logger.error(`${key} task failed: ${errorMessage(err)}`);
    }
  }, { noOverlap: true, name: key });
  return task;
}

export const runCommand: Command = {
  name: 'run',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('run', argv, { config: { type: 'string', short: 'c' } });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    // The config and rule files are validated in a worker thread: zod and yaml stay out of this isolate.
    const { loaded, rules, workerError } = await prepareStartupIsolated(values.config, io.env);
    const { config } = loaded;
    const format = config.log.format === 'auto' ? (config.log.file === undefined && io.stderr.isTTY === true ? 'human' : 'ecs') : config.log.format;
    const logger = createLogger({ level: config.log.level, file: config.log.file, format });
    if (workerError !== undefined) logger.warn(`config validated in-process (the start-up worker failed: ${workerError}); about 6 MB more heap for the agent's lifetime`);
    const ctx = await createAgentContext(loaded, logger, io.env, { hostInWorker: true, realtime: true });
    const { builder, source, stateDir } = ctx;

    const outputs = createTransports(loaded, {
      logger, stateDir, configFile: loaded.file, agentPid: process.pid, hostName: builder.host.name,
    });
    const detection = config.detect.enabled
      ? createAgentEngine({ config: config.detect, configFile: loaded.file, stateDir, builder, logger, rules: rules.map(buildRule) })
      : undefined;
    const pipeline = createPipeline({
      stateDir, spool: config.spool, metrics: config.metrics, heartbeat: config.heartbeat, outputs, logger, agentEvent: builder.agentEvent,
    });
    await pipeline.start();
    await detection?.start();

    const info = source.info();
    const rt = info.realtime;
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

    const watcher = new Watcher({
      source, builder, table: ctx.table, sink: pipeline, logger, intervalMs: config.interval, reconcileIntervalMs: config.source.reconcile_interval,
      shipProcesses: config.events.process, processFilter: config.events.process_filter,
      ...(detection === undefined ? {} : { detect: (doc) => detection.evaluate(doc) }),
    });
    const tasks = config.inventory.enabled
      ? [schedule(loaded.file, 'inventory.schedule', config.inventory.schedule, logger, async () => {
        await watcher.inventory();
        reduceHeapAfter(INVENTORY_SETTLE_MS);
      })]
      : [];
    await watcher.start();

    // Timers are unref'd everywhere; this one keeps the process alive until a signal arrives.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => { resolve('SIGINT'); });
      process.once('SIGTERM', () => { resolve('SIGTERM'); });
    });
    logger.info(`${signal}: stopping`);
    const deadline = setTimeout(() => {
      logger.error('shutdown took longer than 5 s; exiting with work still queued in the spool');
      process.exit(1);
    }, SHUTDOWN_BUDGET_MS);
    deadline.unref();
    for (const t of tasks) await t.destroy();
    await watcher.shutdown();
    await detection?.shutdown();
    await pipeline.accept(builder.agentEvent({ action: Action.agentStopped, message: `portwarden stopped (${signal})` }));
    await pipeline.shutdown();
    clearInterval(keepAlive);
    clearTimeout(deadline);
    return 0;
  },
};
