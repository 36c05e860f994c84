import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../app/config.js';
import { Baseline, baselineFile } from '../../detect/index.js';
import { silentLogger } from '../../log/logger.js';
import { errorMessage, PortwardenError, UsageError } from '../../util/errors.js';
import { prepareStateDir } from '../../app/context.js';
import { parseCommandArgs, syncCommand } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden baseline export FILE|- [--config FILE]
       portwarden baseline import FILE [--config FILE]

The learned baseline lives in <state_dir>/baseline.json: per host, the (program, port, scope)
listeners and (parent -> child) process pairs seen. After the learning window (detect.baseline.learning,
default 24h) a first-seen one raises a low-severity alert.

  export FILE   write this host's baseline to FILE (- for stdout)
  import FILE   add the entries of an export (e.g. from a golden host) to this host's baseline as
                fleet-wide known entries; they never raise "first seen" alerts here.
                Import while the agent is stopped (a running agent rewrites the file from memory).

Options:
  --config FILE   use state_dir and detect.baseline from this config
  -h, --help      this help`;

export const baselineCommand: Command = syncCommand('baseline', HELP, runBaseline);

function runBaseline(argv: string[], io: CliIO): number {
  const { values, positionals } = parseCommandArgs('baseline', argv, { config: { type: 'string', short: 'c' } }, true);
  if (values.help === true) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [verb, file, ...extra] = positionals;
  if ((verb !== 'export' && verb !== 'import') || file === undefined || extra.length > 0) {
    throw new UsageError('portwarden baseline: expected "export FILE" or "import FILE" (see portwarden baseline --help)');
  }
  const loaded = loadConfig(values.config, io.env);
  const target = baselineFile(prepareStateDir(loaded, io.env));
  const b = loaded.config.detect.baseline;
  const baseline = new Baseline({ file: target, learningMs: b.learning, maxEntries: b.max_entries, logger: silentLogger });
  if (verb === 'export') {
    if (!existsSync(target)) io.stderr.write(`note: ${target} does not exist yet (the agent has not learned anything); exporting an empty baseline\n`);
    const text = `${JSON.stringify(baseline.toJSON(), null, 1)}\n`;
    if (file === '-') io.stdout.write(text);
    else writeFileSync(file, text);
    return 0;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PortwardenError('BASELINE_UNREADABLE', `portwarden baseline import: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
  let added: number;
  try {
    added = baseline.merge(raw, true);
  } catch (err) {
    throw new PortwardenError('BASELINE_INVALID', `portwarden baseline import: ${file}: ${errorMessage(err)}`, { cause: err });
  }
  baseline.save();
  io.stdout.write(`imported ${added} new entries from ${file} into ${target}\n`);
  return 0;
}
