import { existsSync, readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSettingsText, yamlData } from '../../config/loader.js';
import { ConfigError, PortwardenError } from '../util/errors.js';
import type { DetectConfig } from './config.js';
import { packSources } from './rule-schema.js';
import { buildRule } from './rules.js';
import type { RuleSource } from './rules.js';
import { isSigma, sigmaSource } from './sigma.js';
import type { Detector } from './types.js';

/** `config/rules/` of the installed package (works from the source tree and from dist/). */
export function builtinRulesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../config/rules', '../../../config/rules']) {
    const dir = resolve(here, rel);
    if (existsSync(join(dir, 'windows.yaml'))) return dir;
  }
  throw new PortwardenError('RULE_PACKS_MISSING', `built-in rule packs not found next to ${here} (expected config/rules/*.yaml in the package)`);
}

/** The shipped rule pack files, sorted. */
export function builtinRuleFiles(): string[] {
  const dir = builtinRulesDir();
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
}

/**
 * Reads and validates a rule file: a portwarden rule pack, or one or more Sigma `process_creation`
 * rules (YAML documents separated by `---`). Its enabled rules, in file order.
 */
export function readRuleFile(file: string): RuleSource[] {
  return parseRuleText(readSettingsText(file, 'rule file'), file);
}

/** readRuleFile on text already read (`file` names it in errors). */
export function parseRuleText(text: string, file: string): RuleSource[] {
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs)) return [];
  const out: RuleSource[] = [];
  docs.forEach((d, i) => {
    const where = docs.length > 1 ? `document ${i + 1}` : '';
    const err = d.errors[0];
    if (err !== undefined) throw new ConfigError(file, where, `invalid YAML: ${err.message}`);
    const raw: unknown = yamlData(d, file, where);
    if (raw === null || raw === undefined) return;
    if (isSigma(raw)) {
      const rule = sigmaSource(raw, file, i);
      if (rule !== undefined) out.push(rule);
    } else {
      out.push(...packSources(raw, file));
    }
  });
  return out;
}

/** A rule file's detectors. */
export function loadRuleFile(file: string): Detector[] {
  return readRuleFile(file).map(buildRule);
}

/**
 * Built-in packs (unless switched off) and the user's files, validated; rule ids must be unique
 * across all. Plain data: the agent reads them in its start-up worker and builds them with buildRule.
 */
export function readRuleSources(c: DetectConfig, configFile: string): RuleSource[] {
  const base = isAbsolute(configFile) || existsSync(configFile) ? dirname(resolve(configFile)) : process.cwd();
  const files = [...(c.builtin_rules ? builtinRuleFiles() : []), ...c.rule_files.map((f) => resolve(base, f))];
  const out: RuleSource[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    for (const rule of readRuleFile(file)) {
      const prev = seen.get(rule.spec.id);
      if (prev !== undefined) throw new ConfigError(file, `rule ${rule.spec.id}`, `duplicate rule id (already defined in ${prev})`);
      seen.set(rule.spec.id, file);
      out.push(rule);
    }
  }
  return out;
}

/** The detectors of readRuleSources. */
export function loadRules(c: DetectConfig, configFile: string): Detector[] {
  return readRuleSources(c, configFile).map(buildRule);
}
