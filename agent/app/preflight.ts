/**
 * `portwarden check-config`: everything `run` would refuse, all at once. The schema (every issue,
 * unknown keys with a did-you-mean), then what the schema cannot see: rule files (read, parsed and
 * compiled), TLS files (readable PEM certificates and keys), the policy's public keys and CA, the state dir (writable, or creatable),
 * unique output names. Checks that need a valid config run only when the schema passed; the file
 * checks look at the raw values, so a typo elsewhere does not hide a missing CA file.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { EMBEDDED, formatPath, readConfigFile, schemaProblems } from '../../config/loader.js';
import { loadRules } from '../detect/load.js';
import { readPublicKeys } from '../policy/keys.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { readRegularFileSync } from '../util/safe-fs.js';
import { parseConfig } from './config.js';
import type { LoadedConfig } from './config.js';
import { configSchema } from './config-schema.js';
import { defaultStateDir, stateDirUnsafe, unsafeStateDir } from './context.js';

export type Preflight = { kind: 'ok'; loaded: LoadedConfig } | { kind: 'invalid'; problems: ConfigError[] };

function at(raw: unknown, ...path: PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function baseDir(file: string): string {
  return file !== EMBEDDED && (isAbsolute(file) || existsSync(file)) ? dirname(resolve(file)) : process.cwd();
}

function pemProblem(path: string, kind: 'ca' | 'cert' | 'key'): string | undefined {
  let pem: Buffer;
  try {
    pem = readRegularFileSync(path);
  } catch (err) {
    return `a readable PEM file, but cannot read ${path} (${errorMessage(err)})`;
  }
  try {
    if (kind === 'key') createPrivateKey(pem);
    else new X509Certificate(pem);
  } catch (err) {
    return `a PEM ${kind === 'key' ? 'private key' : 'certificate'}, but ${path} is not one (${errorMessage(err)})`;
  }
  return undefined;
}

function fileProblems(raw: unknown, file: string): ConfigError[] {
  const out: ConfigError[] = [];
  const base = baseDir(file);
  const ruleFiles = at(raw, 'detect', 'rule_files');
  if (Array.isArray(ruleFiles)) {
    ruleFiles.forEach((f: unknown, i) => {
      if (typeof f !== 'string') return;
      try {
        accessSync(resolve(base, f), constants.R_OK);
      } catch (err) {
        out.push(new ConfigError(file, `detect.rule_files[${i}]`, `a readable rule file, but cannot read ${f} (${errorMessage(err)})`));
      }
    });
  }
  const outputs = at(raw, 'outputs');
  if (Array.isArray(outputs)) {
    outputs.forEach((_o: unknown, i) => {
      for (const kind of ['ca', 'cert', 'key'] as const) {
        const p = at(outputs, i, 'tls', kind);
        if (typeof p !== 'string') continue;
        const problem = pemProblem(resolve(base, p), kind);
        if (problem !== undefined) out.push(new ConfigError(file, formatPath(['outputs', i, 'tls', kind]), problem));
      }
    });
  }
  const policy = at(raw, 'policy');
  const keys = at(policy, 'public_key');
  (typeof keys === 'string' ? [keys] : Array.isArray(keys) ? keys : []).forEach((f: unknown, i) => {
    if (typeof f !== 'string') return;
    try {
      readPublicKeys(resolve(base, f));
    } catch (err) {
      out.push(new ConfigError(file, `policy.public_key${Array.isArray(keys) ? `[${i}]` : ''}`, `a PEM file of Ed25519 public keys (${errorMessage(err)})`));
    }
  });
  const ca = at(policy, 'ca');
  if (typeof ca === 'string') {
    const problem = pemProblem(resolve(base, ca), 'ca');
    if (problem !== undefined) out.push(new ConfigError(file, 'policy.ca', problem));
  }
  return out;
}

/** The state dir exists and is writable, or its nearest existing ancestor lets `run` create it. */
function stateDirProblem(loaded: LoadedConfig, env: NodeJS.ProcessEnv): ConfigError | undefined {
  const dir = resolve(loaded.config.state_dir ?? defaultStateDir(env));
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    if (!statSync(probe).isDirectory()) throw new Error(`${probe} is not a directory`);
    accessSync(probe, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    return new ConfigError(loaded.file, 'state_dir', `a directory the agent can create, read and write (${dir}: ${errorMessage(err)})`, err);
  }
  const unsafe = probe === dir ? unsafeStateDir(dir) : undefined;
  return unsafe === undefined ? undefined : new ConfigError(loaded.file, 'state_dir', stateDirUnsafe(unsafe));
}

function collect(problems: ConfigError[], check: () => void): void {
  try {
    check();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err);
  }
}

/**
 * Every problem of the config at `file` (the embedded default without one) that `run` would refuse.
 * `hostChecks: false` checks the schema only: for a config written for another machine.
 */
export function preflight(file: string | undefined, env: NodeJS.ProcessEnv, opts: { hostChecks: boolean } = { hostChecks: true }): Preflight {
  const name = file ?? EMBEDDED;
  let raw: unknown = {};
  if (file !== undefined) {
    try {
      raw = readConfigFile(file, env);
    } catch (err) {
      if (err instanceof ConfigError) return { kind: 'invalid', problems: [err] };
      throw err;
    }
  }
  const problems = opts.hostChecks ? fileProblems(raw, name) : [];
  const schema = schemaProblems(configSchema, raw, name);
  if (schema.kind === 'invalid') return { kind: 'invalid', problems: [...schema.problems, ...problems] };
  let loaded: LoadedConfig | undefined;
  collect(problems, () => { loaded = parseConfig(raw, name); });
  if (loaded === undefined) return { kind: 'invalid', problems };
  const ok = loaded;
  if (!opts.hostChecks) return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'ok', loaded: ok };
  const stateDir = stateDirProblem(ok, env);
  if (stateDir !== undefined) problems.push(stateDir);
  // Rule files that cannot be read are reported above; compiling needs them all.
  if (ok.config.detect.enabled && !problems.some((p) => p.keyPath.startsWith('detect.rule_files'))) {
    collect(problems, () => { loadRules(ok.config.detect, ok.file); });
  }
  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'ok', loaded: ok };
}
