import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { Document } from 'yaml';
import { parseAllDocuments } from 'yaml';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSettingsText, yamlData } from '../../config/loader.js';
import { ConfigError, errorMessage, PortwardenError } from '../util/errors.js';
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

const licenseCache = new Map<string, string | undefined>();

/**
 * The licence of Sigma rules without a `license:` key: `DRL-1.1` when a LICENSE file in the rule's
 * directory or up to four above it is the Detection Rule License 1.1 (as in SigmaHQ's repository).
 */
export function sigmaLicense(file: string): string | undefined {
  let dir = dirname(resolve(file));
  for (let up = 0; up < 5; up++) {
    let found = licenseCache.get(dir);
    if (!licenseCache.has(dir)) {
      found = undefined;
      for (const name of ['LICENSE', 'LICENSE.md', 'LICENSE.Detection.Rules.md']) {
        try {
          if (/Detection Rule License \(DRL\) 1\.1/.test(readFileSync(join(dir, name), 'utf8'))) found = 'DRL-1.1';
        } catch { /* no such file */ }
      }
      licenseCache.set(dir, found);
    }
    if (found !== undefined) return found;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function yamlDocuments(text: string): Document.Parsed[] {
  const docs = parseAllDocuments(text, { prettyErrors: false });
  return Array.isArray(docs) ? docs : [];
}

/** A rule file's YAML documents; ConfigError when unreadable. */
export function ruleDocuments(file: string): Document.Parsed[] {
  return yamlDocuments(readSettingsText(file, 'rule file'));
}

/**
 * Validates the text of a rule file (a portwarden rule pack, or Sigma documents); `file` names it in
 * errors and in the rules' provenance. Used for files and for the rule texts of a policy bundle.
 */
export function parseRuleText(text: string, file: string): RuleSource[] {
  const docs = yamlDocuments(text);
  return docs.flatMap((d, i) => documentSources(d, file, i, docs.length));
}

/** One YAML document of a rule file: its enabled rules; throws ConfigError (UnsupportedRuleError for Sigma the agent cannot run). */
export function documentSources(d: Document.Parsed, file: string, i: number, count: number): RuleSource[] {
  const err = d.errors[0];
  if (err !== undefined) throw new ConfigError(file, count > 1 ? `document ${i + 1}` : '', `invalid YAML: ${err.message}`);
  const raw: unknown = yamlData(d, file, count > 1 ? `document ${i + 1}` : '');
  if (raw === null || raw === undefined) return [];
  if (isSigma(raw)) {
    const rule = sigmaSource(raw, file, i, sigmaLicense(file));
    return rule === undefined ? [] : [rule];
  }
  return packSources(raw, file);
}

/**
 * Reads and validates a rule file: a portwarden rule pack, or one or more Sigma rules (YAML
 * documents separated by `---`). Its enabled rules, in file order.
 */
export function readRuleFile(file: string): RuleSource[] {
  return parseRuleText(readSettingsText(file, 'rule file'), file);
}

/** A rule file's detectors. */
export function loadRuleFile(file: string): Detector[] {
  return readRuleFile(file).map(buildRule);
}

const RULE_FILE = /\.ya?ml$/i;

/**
 * The rule files of a directory: every `*.yml` / `*.yaml` below it, in code-point order of their
 * paths' names at each level. Subdirectories are walked; names starting with a dot (`.git`,
 * `.github` with its workflow YAML) are not. A symlink to a regular file counts as that file (as
 * readRegularFileSync reads it); a symlink to a directory is not followed (no loops). Throws the
 * OS's error for an unreadable directory.
 */
export function ruleFilesInDir(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (RULE_FILE.test(e.name) && (e.isFile() || (e.isSymbolicLink() && isRegularFile(p)))) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false; // a dangling link
  }
}

/**
 * The files one `detect.rule_files` entry names: the file itself, or the rule files of a directory
 * (ruleFilesInDir). A missing file is left to readRuleFile, whose error names it.
 */
export function ruleFilesOfEntry(path: string, configFile: string, index: number): string[] {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch { /* readRuleFile says why */ }
  if (!dir) return [path];
  try {
    return ruleFilesInDir(path);
  } catch (err) {
    throw new ConfigError(configFile, `detect.rule_files[${index}]`, `a readable rule file or directory, but cannot list ${path} (${errorMessage(err)})`, err);
  }
}

/**
 * Built-in packs (unless switched off) and the user's files and directories, validated; rule ids
 * must be unique across all. Plain data: the agent reads them in its start-up worker and builds them
 * with buildRule. A directory is read again at each call, so a reload picks up files added to it.
 */
export function readRuleSources(c: DetectConfig, configFile: string): RuleSource[] {
  const base = isAbsolute(configFile) || existsSync(configFile) ? dirname(resolve(configFile)) : process.cwd();
  const files = [...(c.builtin_rules ? builtinRuleFiles() : []), ...c.rule_files.flatMap((f, i) => ruleFilesOfEntry(resolve(base, f), configFile, i))];
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
