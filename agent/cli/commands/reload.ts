import { intOption, parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';
import { locateAgent, readStatus } from '../agent-state.js';
import { UsageError } from '../../util/errors.js';
import { visibleLines } from '../../util/terminal-text.js';

const HELP = `Usage: portwarden reload [--config FILE | --state-dir DIR] [--timeout SECONDS] [--no-wait]

Asks the agent that holds the state_dir to reload in place (the same as sending it SIGHUP): it
re-reads the config file it was started with, its rule files, allowlists and sensitive ports,
applies detection changes at once, drains and restarts only the outputs whose settings changed,
starts added outputs and drains removed ones, and keeps its process table, listeners and spool. A
config that does not validate is refused and the agent keeps running on the previous one. Settings
only a restart can change (state_dir, source, interval, spool, metrics, log, data_stream) are
reported.
--config only locates the state_dir; the agent reads the file it was started with.

Then waits for the agent's answer in <state_dir>/status.json and prints it.

Options:
  --config FILE      the agent's config, to find its state_dir
  --state-dir DIR    the agent's state_dir (instead of --config)
  --timeout SECONDS  how long to wait for the answer (default 60)
  --no-wait          signal and return at once
  -h, --help         this help

Exit codes: 0 reloaded (or signalled, with --no-wait); 1 the reload was refused or no answer came
in time; 2 usage or configuration error; 3 no agent is running on that state_dir.`;

export const reloadCommand: Command = {
  name: 'reload',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('reload', argv, {
      config: { type: 'string', short: 'c' }, 'state-dir': { type: 'string' }, timeout: { type: 'string' }, 'no-wait': { type: 'boolean' },
    });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (values.config !== undefined && values['state-dir'] !== undefined) throw new UsageError('portwarden reload: give --config or --state-dir, not both');
    if (process.platform === 'win32') throw new UsageError('portwarden reload: not available on Windows (no SIGHUP); restart the service');
    const timeoutMs = (intOption('reload', 'timeout', values.timeout, 3600) ?? 60) * 1000;
    const { stateDir, pid } = locateAgent({ config: values.config, stateDir: values['state-dir'] }, io.env);
    if (pid === undefined) {
      io.stderr.write(`portwarden reload: no agent is running on state_dir ${visibleLines(stateDir)}\n`);
      return 3;
    }
    const before = readStatus(stateDir);
    const seen = before.kind === 'ok' ? before.status.last_reload?.at : undefined;
    process.kill(pid, 'SIGHUP');
    if (values['no-wait'] === true) {
      io.stdout.write(`signalled the agent (pid ${pid}) to reload\n`);
      return 0;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = readStatus(stateDir);
      const r = now.kind === 'ok' ? now.status.last_reload : null;
      if (r !== null && r.at !== seen && r.reason === 'SIGHUP') {
        if (r.kind === 'refused') {
          io.stderr.write(visibleLines(`portwarden reload: refused, the agent (pid ${pid}) runs on the previous config: ${r.file}: ${r.keyPath === '' ? '(top level)' : r.keyPath}: ${r.expected}\n`));
          return 1;
        }
        const lines = [
          `reloaded the agent (pid ${pid}): ${r.applied.length === 0 ? 'nothing changed' : `applied ${r.applied.join(', ')}`}`,
          ...(r.outputsRestarted.length > 0 ? [`outputs restarted: ${r.outputsRestarted.join(', ')}`] : []),
          ...(r.outputsAdded.length > 0 ? [`outputs added: ${r.outputsAdded.join(', ')}`] : []),
          ...(r.outputsRemoved.length > 0 ? [`outputs removed: ${r.outputsRemoved.join(', ')}`] : []),
          ...(r.restartRequired.length > 0 ? [`needs a restart to change: ${r.restartRequired.join(', ')}`] : []),
          `rules active: ${r.rules}`,
        ];
        io.stdout.write(visibleLines(`${lines.join('\n')}\n`));
        return 0;
      }
      if (Date.now() > deadline) {
        io.stderr.write(`portwarden reload: signalled the agent (pid ${pid}) but no answer in ${timeoutMs / 1000} s (see its log)\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  },
};
