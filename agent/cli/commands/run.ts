import { constants } from 'node:os';
import { SHUTDOWN_BUDGET_MS, startAgent } from '../../app/agent.js';
import { prepareStartupIsolated } from '../../app/startup-isolated.js';
import { errorMessage } from '../../util/errors.js';
import { parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden run [--config FILE]

Runs the agent in the foreground: polls listeners and processes, raises alerts, and ships ECS
events to the configured outputs through the durable spool. Without --config: the embedded
default (watch this host every 1s, print events on stdout).
SIGINT/SIGTERM, or the reader of standard output going away (EPIPE): stop collecting, flush,
exit 0 within 5 s. A second SIGINT/SIGTERM while stopping: stop waiting for the outputs (what is
not delivered stays in the spool for the next start), exit 128+signal (130, 143).
SIGHUP (or \`portwarden reload\`): re-read the config file, rule files and allowlists and apply them
in place, keeping the process table, listeners and spool; a config that does not validate is
refused and the agent runs on (event config_reload_failed). See docs/fleet.md.
The agent writes its state to <state_dir>/status.json (\`portwarden status\`).`;

export const runCommand: Command = {
  name: 'run',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('run', argv, { config: { type: 'string', short: 'c' } });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    // From here on SIGHUP never ends the process: one that arrives while the agent starts is
    // applied once it runs (the files may have changed after the start-up read).
    const during = { hup: false };
    let onHup = (): void => { during.hup = true; };
    const hup = (): void => { onHup(); };
    process.on('SIGHUP', hup);
    // SIGINT/SIGTERM are taken from here on too: the outputs may already ship documents while the
    // last stages start, and the default action would end the process without a flush. One that
    // arrives while the agent starts stops it as soon as it runs.
    let stopWith: (s: NodeJS.Signals | 'EPIPE') => void = () => undefined;
    const stopped = new Promise<NodeJS.Signals | 'EPIPE'>((resolve) => { stopWith = resolve; });
    // Start-up may wait for as long as an output is down (room in a full spool, when_full: block):
    // a stop signal then ends the wait instead of the signal waiting for start-up.
    const startup = new AbortController();
    // The first stop (signal or EPIPE) stops gracefully. A second signal cuts the stop short
    // (agent.hurry(): no more waiting for outputs) instead of the default action, which would end
    // the process mid-shutdown; the listeners stay, so a third one is ignored too.
    let first: NodeJS.Signals | 'EPIPE' | undefined;
    let again: NodeJS.Signals | undefined;
    let onAgain = (): void => undefined;
    const stop = (s: NodeJS.Signals | 'EPIPE'): void => {
      if (first === undefined) {
        first = s;
        stopWith(s);
        startup.abort();
      } else if (again === undefined && s !== 'EPIPE') {
        again = s;
        onAgain();
      }
    };
    const onInt = (): void => { stop('SIGINT'); };
    const onTerm = (): void => { stop('SIGTERM'); };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    // Timers are unref'd everywhere; this one keeps the process alive until a signal arrives, also
    // while start-up waits on nothing but unref'd timers (the output's retries).
    const keepAlive = setInterval(() => undefined, 1 << 30);
    let agent;
    try {
      // The config and rule files are validated in a worker thread: zod and yaml stay out of this isolate.
      const prepared = await prepareStartupIsolated(values.config, io.env);
      agent = await startAgent(prepared, io.env, io.stderr.isTTY === true, { ...(values.config === undefined ? {} : { configFile: values.config }), abort: startup.signal });
    } catch (err) {
      clearInterval(keepAlive);
      process.off('SIGHUP', hup);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      throw err;
    }
    const running = agent;
    // Reloads are serialised inside the agent; the result is logged and sent in-band there.
    onHup = (): void => { running.reload('SIGHUP').catch((err: unknown) => { running.logger.error(`reload failed: ${errorMessage(err)}`); }); };
    if (during.hup) onHup();

    // The reader of a stdout output went away (`portwarden run | head`): stop as on SIGTERM.
    io.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') stop('EPIPE'); });
    onAgain = (): void => {
      running.logger.warn(`${again ?? 'signal'} again: stopping now; events not yet delivered stay in the spool and are sent after the next start`);
      running.hurry();
    };
    if (again !== undefined) onAgain();
    const signal = await stopped;
    // Stopping: a SIGHUP now is ignored (not the default action, which would end the process).
    onHup = (): void => undefined;
    agent.logger.info(`${signal}: stopping`);
    const deadline = setTimeout(() => {
      const part = agent.stopping();
      agent.logger.error(`shutdown took longer than 5 s${part === undefined ? '' : ` (still stopping: ${part})`}; exiting with work still queued in the spool`);
      process.exit(1);
    }, SHUTDOWN_BUDGET_MS);
    deadline.unref();
    await agent.stop(signal);
    clearInterval(keepAlive);
    clearTimeout(deadline);
    // Cut short by a second signal: the conventional code of a process ended by it.
    return again === undefined ? 0 : 128 + constants.signals[again];
  },
};
