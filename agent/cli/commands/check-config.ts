import { stringify } from 'yaml';
import { loadConfig } from '../../app/config.js';
import { parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';

const HELP = `Usage: portwarden check-config [--config FILE]

Validates the configuration and prints it resolved (defaults filled in, durations in ms, sizes
in bytes, \${ENV} interpolated) with secrets redacted. Without --config: the embedded default.
Exit code 0 when valid, 2 with the file, the key path and what was expected when not.`;

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
    const { values } = parseCommandArgs('check-config', argv, { config: { type: 'string', short: 'c' } });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return Promise.resolve(0);
    }
    const loaded = loadConfig(values.config, io.env);
    io.stdout.write(`# ${loaded.file}: valid\n${stringify(redact(loaded.config))}`);
    return Promise.resolve(0);
  },
};
