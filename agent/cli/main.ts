import { agentVersion } from '../ecs/agent-info.js';
import { ConfigError, PortwardenError, UsageError, errorMessage } from '../util/errors.js';
import { visibleLines } from '../util/terminal-text.js';
import type { CliIO } from './command.js';
import { commands, summaries } from './commands/index.js';

function usage(): string {
  const names = commands.names();
  const width = Math.max(...names.map((n) => n.length));
  return [
    'Usage: portwarden <command> [options]',
    '',
    'Watches listening ports and process lineage; ships ECS events to your SIEM.',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${summaries[n] ?? ''}`),
    '',
    'Options:',
    '  --version   print the version',
    '  --help      this help; `portwarden <command> --help` for a command',
    '',
    'Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.',
  ].join('\n');
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`portwarden ${agentVersion()}\n`);
    return 0;
  }
  try {
    if (!commands.has(name)) throw new UsageError(`portwarden: unknown command "${name}" (see portwarden --help)`);
    return await (await commands.get(name)).run(rest, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`portwarden: configuration error: ${visibleLines(err.message)}\n`);
      return 2;
    }
    if (err instanceof PortwardenError && err.code === 'STATE_DIR_LOCKED') {
      io.stderr.write(`portwarden: ${visibleLines(err.message)}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`${visibleLines(err.message)}\n`);
      return 2;
    }
    io.stderr.write(`portwarden: ${visibleLines(errorMessage(err))}\n`);
    return 1;
  }
}
