/**
 * The rule file format: zod schemas and validation of rule packs. Loaded where rule files are read
 * (the start-up worker, replay, tests); the running agent builds detectors with rules.ts only.
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { yamlData } from '../../config/loader.js';
import { ConfigError } from '../util/errors.js';
import { OS_TYPES } from '../util/os.js';
import { TACTIC_RE, TECHNIQUE_RE } from './attack.js';
import { buildRule, pathText, ruleKey } from './rules.js';
import type { RuleSource } from './rules.js';
import type { Detector, RuleSpec } from './types.js';

const severity = z.union([z.enum(['low', 'medium', 'high', 'critical']), z.number().int().min(1).max(100)])
  .describe('low (21), medium (47), high (73), critical (99), or a number 1-100');
const scopes = ['any', 'public', 'private', 'link_local', 'loopback'] as const;

/** One rule as users write it in YAML. */
export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits, . _ : -').describe('stable rule id (rule.id)'),
  name: z.string().min(1).describe('alert title (message, rule.name)'),
  description: z.string().default('').describe('what the rule detects and why it matters (rule.description)'),
  applies_to: z.enum(['process', 'listener', 'connection']).default('process').describe('process start/exec/already_running events, listener events, or network connection events'),
  os: z.array(z.enum(OS_TYPES)).default([]).describe('host OSes the rule applies to; empty: all'),
  severity: severity.describe('event.severity'),
  risk_score: z.number().min(0).max(100).optional().describe('event.risk_score; default follows severity'),
  severity_by_scope: z.partialRecord(z.enum(scopes), severity).optional().describe('listener rules: severity per exposure scope'),
  tactic: z.string().regex(TACTIC_RE, 'expected an ATT&CK tactic id like TA0003').describe('ATT&CK tactic id'),
  technique: z.string().regex(TECHNIQUE_RE, 'expected an ATT&CK technique id like T1505 or T1505.003').describe('ATT&CK technique or sub-technique id'),
  tactic_name: z.string().optional().describe('tactic name when not a built-in one'),
  technique_name: z.string().optional().describe('technique name when not a built-in one'),
  tactics: z.array(z.string().regex(TACTIC_RE, 'expected an ATT&CK tactic id like TA0003')).optional().describe('further ATT&CK tactic ids (threat.tactic.id)'),
  techniques: z.array(z.string().regex(TECHNIQUE_RE, 'expected an ATT&CK technique id like T1505')).optional().describe('further ATT&CK technique ids (threat.technique.id)'),
  references: z.array(z.string()).default([]).describe('URLs (the first becomes rule.reference)'),
  author: z.array(z.string()).optional().describe('rule authors (rule.author), kept for attribution'),
  license: z.string().optional().describe('licence of the rule text (rule.license), e.g. DRL-1.1'),
  version: z.string().optional().describe('rule version; default the pack version'),
  enabled: z.boolean().default(true).describe('false to ship the rule switched off'),
  when: z.unknown().describe('condition: selection, list (any), all/any/not'),
  unless: z.unknown().optional().describe('exceptions: if any matches, no alert'),
});
// The schema's output and the plain RuleSpec the agent builds from must stay the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const ruleSpecMatchesSchema: Same<z.output<typeof ruleSchema>, RuleSpec> = true;
export type { RuleSpec };

const packSchema = z.strictObject({
  ruleset: z.string().default('custom').describe('rule.ruleset of every rule in the file'),
  version: z.string().default('1').describe('default rule.version'),
  lists: z.record(z.string(), z.unknown()).optional().describe('named lists to reuse through YAML anchors (&shells ... *shells)'),
  rules: z.array(z.unknown()).describe('the rules'),
});

/**
 * Validates one rule object: undefined for a disabled rule (still checked in full). Throws
 * ConfigError naming the file, the rule and the key.
 */
export function validateRule(raw: unknown, file: string, index: number, ruleset: string, packVersion: string): RuleSource | undefined {
  const id = raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
  const parsed = ruleSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(file, ruleKey(index, id, issue?.path ?? []), issue?.message ?? 'invalid rule');
  }
  const spec = parsed.data;
  if (spec.when === undefined) throw new ConfigError(file, ruleKey(index, id, ['when']), 'required: the condition of the rule');
  const src: RuleSource = { spec, file, index, ruleset, packVersion };
  buildRule(src); // the conditions' syntax: a bad rule fails here, where its file is read
  return spec.enabled ? src : undefined;
}

/** Parses a rule pack (YAML text) into detectors. */
export function parseRulePack(text: string, file: string): Detector[] {
  const doc = parseDocument(text, { prettyErrors: false });
  const yamlErr = doc.errors[0];
  if (yamlErr !== undefined) throw new ConfigError(file, '', `invalid YAML: ${yamlErr.message}`);
  return compilePack(yamlData(doc, file) ?? {}, file);
}

/** Compiles a parsed rule pack (`ruleset`, `version`, `lists`, `rules`). */
function compilePack(raw: unknown, file: string): Detector[] {
  return packSources(raw, file).map(buildRule);
}

/** Validates a parsed rule pack; its enabled rules, in file order. */
export function packSources(raw: unknown, file: string): RuleSource[] {
  const pack = packSchema.safeParse(raw);
  if (!pack.success) {
    const issue = pack.error.issues[0];
    throw new ConfigError(file, pathText(issue?.path ?? []), issue?.message ?? 'expected a rule pack (ruleset, version, rules)');
  }
  const out: RuleSource[] = [];
  const seen = new Map<string, number>();
  pack.data.rules.forEach((r, i) => {
    const rule = validateRule(r, file, i, pack.data.ruleset, pack.data.version);
    if (rule === undefined) return;
    const prev = seen.get(rule.spec.id);
    if (prev !== undefined) throw new ConfigError(file, `rules[${i}] (id ${rule.spec.id}).id`, `duplicate rule id (also rules[${prev}])`);
    seen.set(rule.spec.id, i);
    out.push(rule);
  });
  return out;
}
