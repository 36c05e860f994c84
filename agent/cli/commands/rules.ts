import { relative } from 'node:path';
import { checkRules } from '../../detect/check.js';
import type { CheckReport, FileVerdict } from '../../detect/check.js';
import { UsageError } from '../../util/errors.js';
import { visible } from '../../util/terminal-text.js';
import { parseCommandArgs, syncCommand } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden rules check PATH... [--json]

Checks rule files as the agent would load them: portwarden rule packs and Sigma rules
(SigmaHQ's YAML, one or more documents per file). A PATH is a file or a directory, read
recursively for *.yml and *.yaml files. Each rule is one of:
  loaded       parsed, its condition compiled, every field mapped to an ECS field the agent
               fills for its log source's product
  unsupported  valid Sigma the agent cannot run (log source, field, modifier), with the reason
  invalid      not a rule the agent can read (YAML error, schema error, bad condition)

Human output: a table per file. --json: one object
  {"files": N, "rules": N, "loaded": N, "unsupported": [{"file", "rule", "reason"}],
   "invalid": [{"file", "rule", "reason"}]}

Exit code: 0 when every rule loads; 3 when some are unsupported (none invalid); 1 when some
are invalid; 2 on usage errors (no PATH, a PATH that cannot be read, no rule files found).

Options:
  --json       one JSON object on stdout
  -h, --help   this help`;

function table(v: FileVerdict, cwd: string): string {
  const name = visible(relative(cwd, v.file) || v.file);
  const rows: [string, string, string][] = [
    ...v.loaded.map((id): [string, string, string] => [id, 'loaded', '']),
    ...v.unsupported.map((p): [string, string, string] => [p.rule ?? '-', 'unsupported', p.reason]),
    ...v.invalid.map((p): [string, string, string] => [p.rule ?? '-', 'invalid', p.reason]),
  ].map(([a, b, c]) => [visible(a), b, visible(c)]);
  const w = Math.max(4, ...rows.map((r) => r[0].length));
  const lines = [name, `  ${'RULE'.padEnd(w)}  ${'VERDICT'.padEnd(11)}  REASON`];
  for (const [id, verdict, reason] of rows) lines.push(`  ${id.padEnd(w)}  ${verdict.padEnd(11)}  ${reason}`.trimEnd());
  return lines.join('\n');
}

function summary(r: CheckReport): string {
  const pct = r.rules === 0 ? 100 : (100 * r.loaded) / r.rules;
  return `${r.files} files, ${r.rules} rules: ${r.loaded} loaded (${pct.toFixed(1)} %), ${r.unsupported.length} unsupported, ${r.invalid.length} invalid`;
}

export const rulesCommand: Command = syncCommand('rules', HELP, runRules);

function runRules(argv: string[], io: CliIO): number {
  const { values, positionals } = parseCommandArgs('rules', argv, { json: { type: 'boolean' } }, true);
  if (values.help === true) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [verb, ...paths] = positionals;
  if (verb !== 'check') throw new UsageError(`portwarden rules: expected "check PATH..."${verb === undefined ? '' : `, got "${visible(verb)}"`} (see portwarden rules --help)`);
  const report = checkRules(paths);
  if (values.json === true) {
    const { perFile: _perFile, ...rest } = report;
    io.stdout.write(`${JSON.stringify(rest)}\n`);
  } else {
    const cwd = process.cwd();
    io.stdout.write(`${report.perFile.map((v) => table(v, cwd)).join('\n\n')}\n\n${summary(report)}\n`);
  }
  return report.invalid.length > 0 ? 1 : report.unsupported.length > 0 ? 3 : 0;
}
