import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../app/config.js';
import { offlineBuilder, Replayer, replayEngine } from '../../detect/replay.js';
import { UsageError } from '../../util/errors.js';
import { isOsType, OS_TYPES_TEXT } from '../../util/os.js';
import { parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden replay --input FILE.ndjson|- [--config FILE] [--os linux|windows|macos] [--baseline FILE]

Runs the detectors over recorded ECS events (one JSON document per line) and writes the alerts
they raise as NDJSON to stdout. Lineage is rebuilt from the stream: process start events
(portwarden's own, or Winlogbeat/Sysmon-style ECS with event.category process and event.type start)
are remembered by process.entity_id and by pid, so later events get their parent and ancestry.
Listener events are portwarden's listening_started / listening_existing documents.

Options:
  --input FILE     the recording; - reads stdin
  --config FILE    detection settings (detect:) from this config; default: built-in rules
  --os OS          host.os.type for documents that carry none
  --baseline FILE  start from this baseline export (portwarden baseline export) instead of learning
  -h, --help       this help

A summary (events read, evaluated, alerts) goes to stderr. Exit code 0 even when alerts were raised.`;

export const replayCommand: Command = {
  name: 'replay',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('replay', argv, {
      input: { type: 'string', short: 'i' },
      config: { type: 'string', short: 'c' },
      os: { type: 'string' },
      baseline: { type: 'string' },
    });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (values.input === undefined) throw new UsageError('portwarden replay: --input FILE (or - for stdin) is required (see portwarden replay --help)');
    const os = values.os;
    if (os !== undefined && !isOsType(os)) throw new UsageError(`portwarden replay: --os expects ${OS_TYPES_TEXT}, got "${os}"`);
    const loaded = loadConfig(values.config, io.env);
    const seed = values.baseline === undefined ? undefined : JSON.parse(readFileSync(values.baseline, 'utf8')) as unknown;
    const engine = replayEngine(loaded.config.detect, loaded.file, offlineBuilder(), undefined, seed);
    const replayer = new Replayer(engine, { defaultOs: os, onAlert: (a) => { io.stdout.write(`${JSON.stringify(a)}\n`); } });
    const input = values.input === '-' ? io.stdin : createReadStream(values.input, 'utf8');
    const rl = createInterface({ input, crlfDelay: Infinity });
    for await (const line of rl) replayer.line(line);
    const s = replayer.stats;
    io.stderr.write(`replay: ${s.lines} events read (${s.invalid} not ECS), ${s.evaluated.process} process and ${s.evaluated.listener} listener events evaluated, ${s.alerts} alerts\n`);
    return 0;
  },
};
