import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, errorMessage } from '../util/errors.js';
import type { DetectConfig, SensitivePortConfig } from './config.js';
import { SENSITIVE_PORTS } from './port-catalogue.js';
import type { PortEntry } from './port-catalogue.js';
import { compilePack } from './rules.js';
import { compileSigma, isSigma } from './sigma.js';
import type { Detector } from './types.js';

/** `config/rules/` of the installed package (works from the source tree and from dist/). */
export function builtinRulesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../config/rules', '../../../config/rules']) {
    const dir = resolve(here, rel);
    if (existsSync(join(dir, 'windows.yaml'))) return dir;
  }
  throw new Error(`built-in rule packs not found next to ${here} (expected config/rules/*.yaml in the package)`);
}

/** The shipped rule pack files, sorted. */
export function builtinRuleFiles(): string[] {
  const dir = builtinRulesDir();
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
}

/**
 * Reads a rule file: a portwarden rule pack, or one or more Sigma `process_creation` rules
 * (YAML documents separated by `---`).
 */
export function loadRuleFile(file: string): Detector[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, '', `cannot read rule file: ${errorMessage(err)}`, err);
  }
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs)) return [];
  const out: Detector[] = [];
  docs.forEach((d, i) => {
    const err = d.errors[0];
    if (err !== undefined) throw new ConfigError(file, docs.length > 1 ? `document ${i + 1}` : '', `invalid YAML: ${err.message}`);
    const raw: unknown = d.toJS();
    if (raw === null || raw === undefined) return;
    if (isSigma(raw)) {
      const rule = compileSigma(raw, file, i);
      if (rule !== undefined) out.push(rule);
    } else {
      out.push(...compilePack(raw, file));
    }
  });
  return out;
}

/** Built-in packs (unless switched off) and the user's files; rule ids must be unique across all. */
export function loadRules(c: DetectConfig, configFile: string): Detector[] {
  const base = isAbsolute(configFile) || existsSync(configFile) ? dirname(resolve(configFile)) : process.cwd();
  const files = [...(c.builtin_rules ? builtinRuleFiles() : []), ...c.rule_files.map((f) => resolve(base, f))];
  const out: Detector[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    for (const rule of loadRuleFile(file)) {
      const prev = seen.get(rule.meta.id);
      if (prev !== undefined) throw new ConfigError(file, `rule ${rule.meta.id}`, `duplicate rule id (already defined in ${prev})`);
      seen.set(rule.meta.id, file);
      out.push(rule);
    }
  }
  return out;
}

/** The shipped catalogue with the config's entries added; a configured transport+port replaces the shipped one. */
export function catalogueFrom(overrides: readonly SensitivePortConfig[]): PortEntry[] {
  const taken = new Set(overrides.flatMap((o) => o.ports.map((p) => `${o.transport}/${p}`)));
  const kept = SENSITIVE_PORTS
    .map((e) => ({ ...e, ports: e.ports.filter((p) => !taken.has(`${e.transport}/${p}`)) }))
    .filter((e) => e.ports.length > 0);
  const added: PortEntry[] = overrides.map((o) => ({
    ports: o.ports,
    service: o.service,
    transport: o.transport,
    tactic: o.tactic,
    technique: o.technique,
    exposure: o.exposure,
    expected: {
      ...(o.expected_owners.linux === undefined ? {} : { linux: o.expected_owners.linux }),
      ...(o.expected_owners.windows === undefined ? {} : { windows: o.expected_owners.windows }),
      ...(o.expected_owners.macos === undefined ? {} : { macos: o.expected_owners.macos }),
    },
  }));
  return [...kept, ...added];
}
