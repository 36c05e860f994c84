/**
 * `portwarden rules check`: which rules of some files or directories the agent would load, which
 * are valid Sigma it cannot run (and why), and which are broken. Every YAML document is judged on
 * its own, so one bad rule does not hide the verdict on the others.
 */
import { statSync } from 'node:fs';
import { ConfigError, errorMessage, UsageError } from '../util/errors.js';
import { documentSources, ruleDocuments, ruleFilesInDir } from './load.js';
import { buildRule } from './rules.js';
import { UnsupportedRuleError } from './sigma.js';

export interface RuleProblem { file: string; rule?: string; reason: string }

export interface FileVerdict {
  file: string;
  /** Rule ids loaded from the file. */
  loaded: string[];
  unsupported: RuleProblem[];
  invalid: RuleProblem[];
}

export interface CheckReport {
  files: number;
  rules: number;
  loaded: number;
  unsupported: RuleProblem[];
  invalid: RuleProblem[];
  perFile: FileVerdict[];
}

/** The rule files a path names: itself, or every *.yml / *.yaml below it (ruleFilesInDir). UsageError when missing. */
export function ruleFilesUnder(path: string): string[] {
  try {
    return statSync(path).isDirectory() ? ruleFilesInDir(path) : [path];
  } catch (err) {
    throw new UsageError(`portwarden rules check: cannot read ${path}: ${errorMessage(err)}`);
  }
}

function ruleName(e: ConfigError): string | undefined {
  const m = /^(?:sigma rule (\S+)|rules\[\d+\] \(id ([^)]+)\))/.exec(e.keyPath);
  return m === null ? undefined : (m[1] ?? m[2]);
}

/** Judges one file, document by document. */
export function checkFile(file: string, seen: Map<string, string>): FileVerdict {
  const v: FileVerdict = { file, loaded: [], unsupported: [], invalid: [] };
  let docs;
  try {
    docs = ruleDocuments(file);
  } catch (err) {
    v.invalid.push({ file, reason: errorMessage(err) });
    return v;
  }
  docs.forEach((d, i) => {
    try {
      for (const src of documentSources(d, file, i, docs.length)) {
        buildRule(src);
        const prev = seen.get(src.spec.id);
        if (prev !== undefined) {
          v.invalid.push({ file, rule: src.spec.id, reason: `duplicate rule id (already defined in ${prev})` });
          continue;
        }
        seen.set(src.spec.id, file);
        v.loaded.push(src.spec.id);
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const rule = ruleName(err);
      const problem: RuleProblem = { file, ...(rule === undefined ? {} : { rule }), reason: err instanceof UnsupportedRuleError ? err.expected.replace(/^unsupported: /, '') : err.message };
      (err instanceof UnsupportedRuleError ? v.unsupported : v.invalid).push(problem);
    }
  });
  return v;
}

/** Checks every rule file the paths name. UsageError for no paths, a missing path, or no rule files at all. */
export function checkRules(paths: readonly string[]): CheckReport {
  if (paths.length === 0) throw new UsageError('portwarden rules check: name at least one rule file or directory (see portwarden rules --help)');
  const files = paths.flatMap(ruleFilesUnder);
  if (files.length === 0) throw new UsageError(`portwarden rules check: no *.yml or *.yaml files under ${paths.join(', ')}`);
  const seen = new Map<string, string>();
  const perFile = files.map((f) => checkFile(f, seen));
  const loaded = perFile.reduce((n, f) => n + f.loaded.length, 0);
  const unsupported = perFile.flatMap((f) => f.unsupported);
  const invalid = perFile.flatMap((f) => f.invalid);
  return { files: files.length, rules: loaded + unsupported.length + invalid.length, loaded, unsupported, invalid, perFile };
}
