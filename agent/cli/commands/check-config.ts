import { stringify } from 'yaml';
import { preflight } from '../../app/preflight.js';
import { visibleLines } from '../../util/terminal-text.js';
import { parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden check-config [--config FILE] [--schema-only]

Validates the configuration as \`run\` does before it starts (schema, rule files parsed and
compiled, TLS files readable PEM, state dir writable) and prints it resolved (defaults filled in,
durations in ms, sizes in bytes, \${ENV} interpolated) with secrets redacted. Without --config:
the embedded default. Exit code 0 when valid; 2 when not, with every problem on its own line:
the file, the key path, what was expected and what was found; unknown keys with a did-you-mean.

Options:
  --config FILE   the config to check
  --schema-only   check the schema only, not this host's files (a config written for another host)
  -h, --help      this help`;

const SECRET_KEYS = new Set(['password', 'token', 'api_key', 'secret', 'passphrase']);

// scheme://user:password@host: the password part of a URL's userinfo.
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i;

/** Replaces secret values (and passwords inside URLs) with `[redacted]`, recursively. */
export function redact(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(URL_PASSWORD, '$1:[redacted]@');
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) && v !== undefined ? '[redacted]' : redact(v)]));
  }
  return value;
}

export const checkConfigCommand: Command = {
  name: 'check-config',
  help: HELP,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('check-config', argv, { config: { type: 'string', short: 'c' }, 'schema-only': { type: 'boolean' } });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return Promise.resolve(0);
    }
    const result = preflight(values.config, io.env, { hostChecks: values['schema-only'] !== true });
    if (result.kind === 'invalid') {
      for (const p of result.problems) io.stderr.write(`portwarden: configuration error: ${visibleLines(p.message)}\n`);
      io.stderr.write(`portwarden: ${result.problems.length} problem(s) found\n`);
      return Promise.resolve(2);
    }
    const { loaded } = result;
    const shown = redact(loaded.config) as Record<string, unknown>;
    // A pre-signed object store URL carries its credential in the query string.
    const policy = shown.policy as { url?: string } | undefined;
    if (policy?.url?.includes('?') === true) shown.policy = { ...policy, url: `${policy.url.slice(0, policy.url.indexOf('?'))}?[redacted]` };
    io.stdout.write(visibleLines(`# ${loaded.file}: valid\n${stringify(shown)}`));
    return Promise.resolve(0);
  },
};
