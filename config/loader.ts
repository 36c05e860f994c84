import { parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage } from '../agent/util/errors.js';
import { readRegularFileSync } from '../agent/util/safe-fs.js';
import { didYouMean, keysAt } from './suggest.js';

/**
 * The generic config loader: YAML, `${ENV}` interpolation, and zod issues turned into ConfigErrors
 * that name the file, the key path and what was expected. Which keys exist is the schema's business:
 * agent/app/config.ts assembles it from the modules' own schemas.
 */

/** Label used in errors when no config file was given. */
export const EMBEDDED = '(embedded default)';

/** `outputs[1].tls.ca` from a zod or our own path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

const ENV_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * A variable of `env`. Windows' environment ignores case (`${PROGRAMDATA}` is `ProgramData`), and
 * `process.env` does too, but a copy of it (the env handed to the start-up worker) does not.
 */
export function envValue(env: NodeJS.ProcessEnv, name: string, platform: NodeJS.Platform = process.platform): string | undefined {
  const exact = env[name];
  if (exact !== undefined || platform !== 'win32') return exact;
  const upper = name.toUpperCase();
  for (const [k, v] of Object.entries(env)) if (k.toUpperCase() === upper) return v;
  return undefined;
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string value; `$${` stays a literal `${`. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, file: string, path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    const escaped = value.split('$${');
    return escaped
      .map((part) => part.replace(ENV_RE, (_m, name: string, def: string | undefined) => {
        const v = envValue(env, name);
        if (v !== undefined) return v;
        if (def !== undefined) return def;
        throw new ConfigError(file, formatPath(path), `environment variable ${name} is not set (use \${${name}:-default} for a default)`);
      }))
      .join('${');
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, file, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, file, [...path, k])]));
  }
  return value;
}

/** A value as the user wrote it, short: `true`, `"fast"`, `a list`, `a mapping`. */
function shown(input: unknown): string {
  if (Array.isArray(input)) return 'a list';
  if (input === null) return 'null';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}...` : input);
  return typeof input === 'number' || typeof input === 'boolean' || typeof input === 'bigint' ? String(input) : typeof input;
}

type Suggest = (path: readonly PropertyKey[], key: string) => string | undefined;

function describeIssue(issue: z.core.$ZodIssue, suggest: Suggest): { path: PropertyKey[]; expected: string } {
  const path = [...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      return {
        path,
        expected: issue.keys.map((k) => {
          const near = suggest(path, k);
          return `unknown key "${k}"${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
        }).join('; '),
      };
    case 'invalid_union': {
      if (issue.discriminator !== undefined && issue.errors.length === 0 && 'options' in issue) {
        const opts = (issue.options ?? []).map((o) => JSON.stringify(o)).join(', ');
        return { path, expected: `expected one of ${opts}` };
      }
      // One union member failed: report the deepest issue of the closest member.
      const inner = issue.errors.flat()[0];
      if (inner !== undefined) {
        const d = describeIssue(inner, (p, k) => suggest([...path, ...p], k));
        return { path: [...path, ...d.path], expected: d.expected };
      }
      return { path, expected: issue.message };
    }
    case 'invalid_type':
      // Issues carry `input` only for values that are there (safeParse with reportInput).
      if (!('input' in issue) || issue.input === undefined) return { path, expected: `missing (expected ${issue.expected})` };
      return { path, expected: `expected ${issue.expected}, got ${shown(issue.input)}` };
    default:
      return { path, expected: issue.message };
  }
}

/** Every schema problem of a plain object (already interpolated), in document order; none when valid. */
export function schemaProblems<S extends z.ZodType>(schema: S, raw: unknown, file: string):
  { kind: 'ok'; data: z.output<S> } | { kind: 'invalid'; problems: ConfigError[] } {
  const input = raw ?? {};
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { kind: 'ok', data: result.data };
  const suggest: Suggest = (path, key) => didYouMean(key, keysAt(schema, input, path));
  const problems = result.error.issues.map((issue) => {
    const { path, expected } = describeIssue(issue, suggest);
    return new ConfigError(file, formatPath(path), expected);
  });
  return { kind: 'invalid', problems: problems.length > 0 ? problems : [new ConfigError(file, '', 'invalid configuration')] };
}

/** Validates a plain object (already interpolated) against `schema`; throws the first problem as a ConfigError. */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, file: string): z.output<S> {
  const result = schemaProblems(schema, raw, file);
  if (result.kind === 'ok') return result.data;
  const [first, ...rest] = result.problems;
  if (first === undefined || rest.length === 0) throw first ?? new ConfigError(file, '', 'invalid configuration');
  throw new ConfigError(first.file, first.keyPath, `${first.expected} (and ${rest.length} more problem(s); \`portwarden check-config\` lists them all)`);
}

/** Reads a config or rule file: a regular file of at most 4 MiB (readRegularFileSync), as text. */
export function readSettingsText(file: string, what: string): string {
  try {
    return readRegularFileSync(file).toString('utf8');
  } catch (err) {
    throw new ConfigError(file, '', `cannot read the ${what} (${errorMessage(err)})`, err);
  }
}

/** Most alias expansions per document: an alias bomb ("billion laughs") is an error, not a hang. */
export const MAX_YAML_ALIASES = 100;

/** A parsed YAML document as plain data; aliases bounded, nesting too deep for the stack refused. */
export function yamlData(doc: Document, file: string, keyPath = ''): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (err instanceof ReferenceError && /alias count/i.test(err.message)) {
      throw new ConfigError(file, keyPath, `YAML aliases that expand to more than ${MAX_YAML_ALIASES} copies (an alias bomb?)`, err);
    }
    throw new ConfigError(file, keyPath, `unusable YAML: ${errorMessage(err)}`, err);
  }
}

/** Reads a YAML config file and interpolates `${ENV}`: the raw settings, not validated yet. */
export function readConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): unknown {
  return parseConfigText(readSettingsText(file, 'config file'), file, env);
}

/** readConfigFile on text already read (`file` names it in errors). Throws only ConfigError. */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    throw new ConfigError(file, '', `not valid YAML: ${yamlError.message.split('\n')[0] ?? ''}`, yamlError);
  }
  const raw: unknown = yamlData(doc, file);
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(file, '', 'expected a mapping of settings at the top level');
  }
  return interpolate(raw, env, file);
}
