import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { EcsDocument } from '../ecs/document.js';
import { ConfigError } from '../util/errors.js';
import { TACTIC_RE, TECHNIQUE_RE, threatRefs } from './attack.js';
import { compileNode, RuleSyntaxError } from './matcher.js';
import type { Predicate } from './matcher.js';
import { defaultRisk, severityOf } from './types.js';
import type { DetectContext, Detector, Hit, RuleMeta } from './types.js';

const severity = z.union([z.enum(['low', 'medium', 'high', 'critical']), z.number().int().min(1).max(100)])
  .describe('low (21), medium (47), high (73), critical (99), or a number 1-100');
const scopes = ['any', 'public', 'private', 'link_local', 'loopback'] as const;

/** One rule as users write it in YAML. */
export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits, . _ : -').describe('stable rule id (rule.id)'),
  name: z.string().min(1).describe('alert title (message, rule.name)'),
  description: z.string().default('').describe('what the rule detects and why it matters (rule.description)'),
  applies_to: z.enum(['process', 'listener']).default('process').describe('process start/exec/already_running events, or listener events'),
  os: z.array(z.enum(['linux', 'windows', 'macos'])).default([]).describe('host OSes the rule applies to; empty: all'),
  severity: severity.describe('event.severity'),
  risk_score: z.number().min(0).max(100).optional().describe('event.risk_score; default follows severity'),
  severity_by_scope: z.partialRecord(z.enum(scopes), severity).optional().describe('listener rules: severity per exposure scope'),
  tactic: z.string().regex(TACTIC_RE, 'expected an ATT&CK tactic id like TA0003').describe('ATT&CK tactic id'),
  technique: z.string().regex(TECHNIQUE_RE, 'expected an ATT&CK technique id like T1505 or T1505.003').describe('ATT&CK technique or sub-technique id'),
  tactic_name: z.string().optional().describe('tactic name when not a built-in one'),
  technique_name: z.string().optional().describe('technique name when not a built-in one'),
  references: z.array(z.string()).default([]).describe('URLs (the first becomes rule.reference)'),
  version: z.string().optional().describe('rule version; default the pack version'),
  enabled: z.boolean().default(true).describe('false to ship the rule switched off'),
  when: z.unknown().describe('condition: selection, list (any), all/any/not'),
  unless: z.unknown().optional().describe('exceptions: if any matches, no alert'),
});
export type RuleSpec = z.output<typeof ruleSchema>;

const packSchema = z.strictObject({
  ruleset: z.string().default('custom').describe('rule.ruleset of every rule in the file'),
  version: z.string().default('1').describe('default rule.version'),
  lists: z.record(z.string(), z.unknown()).optional().describe('named lists to reuse through YAML anchors (&shells ... *shells)'),
  rules: z.array(z.unknown()).describe('the rules'),
});

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out;
}

/** A YAML rule compiled into a detector. */
class YamlRule implements Detector {
  constructor(readonly meta: RuleMeta, private readonly when: Predicate, private readonly unless: Predicate | undefined) {}

  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined {
    const ev = this.when(doc, ctx.ci);
    if (ev === undefined) return undefined;
    if (this.unless?.(doc, ctx.ci) !== undefined) return undefined;
    const what = ev.length > 0 ? ev.join(', ') : 'condition held';
    return { reason: `${what}: ${this.meta.description || this.meta.name}` };
  }
}

/** Compiles one rule object; throws ConfigError naming the file, the rule and the key. */
export function compileRule(raw: unknown, file: string, index: number, ruleset: string, packVersion: string): Detector | undefined {
  const id = raw !== null && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
  const where = (path: readonly PropertyKey[]) => `rules[${index}]${id === undefined ? '' : ` (id ${id})`}${path.length > 0 ? `.${pathText(path)}` : ''}`;
  const parsed = ruleSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(file, where(issue?.path ?? []), issue?.message ?? 'invalid rule');
  }
  const r = parsed.data;
  if (r.when === undefined) throw new ConfigError(file, where(['when']), 'required: the condition of the rule');
  let when: Predicate;
  let unless: Predicate | undefined;
  try {
    when = compileNode(r.when, ['when']);
    unless = r.unless === undefined ? undefined : compileNode(r.unless, ['unless']);
  } catch (err) {
    if (err instanceof RuleSyntaxError) throw new ConfigError(file, where(err.path), err.message);
    throw err;
  }
  if (!r.enabled) return undefined;
  const sev = severityOf(r.severity);
  const meta: RuleMeta = {
    id: r.id,
    name: r.name,
    description: r.description,
    ruleset,
    version: r.version ?? packVersion,
    family: r.applies_to,
    os: r.os,
    severity: sev,
    riskScore: r.risk_score ?? defaultRisk(sev),
    threat: threatRefs(r.tactic, r.technique, { tactic: r.tactic_name, technique: r.technique_name }),
    references: r.references,
  };
  if (r.severity_by_scope !== undefined) {
    meta.severityByScope = Object.fromEntries(Object.entries(r.severity_by_scope).map(([k, v]) => [k, severityOf(v)]));
  }
  return new YamlRule(meta, when, unless);
}

/** Parses a rule pack (YAML text) into detectors. */
export function parseRulePack(text: string, file: string): Detector[] {
  const doc = parseDocument(text, { prettyErrors: false });
  const yamlErr = doc.errors[0];
  if (yamlErr !== undefined) throw new ConfigError(file, '', `invalid YAML: ${yamlErr.message}`);
  return compilePack(doc.toJS() ?? {}, file);
}

/** Compiles a parsed rule pack (`ruleset`, `version`, `lists`, `rules`). */
export function compilePack(raw: unknown, file: string): Detector[] {
  const pack = packSchema.safeParse(raw);
  if (!pack.success) {
    const issue = pack.error.issues[0];
    throw new ConfigError(file, pathText(issue?.path ?? []), issue?.message ?? 'expected a rule pack (ruleset, version, rules)');
  }
  const out: Detector[] = [];
  const seen = new Map<string, number>();
  pack.data.rules.forEach((r, i) => {
    const rule = compileRule(r, file, i, pack.data.ruleset, pack.data.version);
    if (rule === undefined) return;
    const prev = seen.get(rule.meta.id);
    if (prev !== undefined) throw new ConfigError(file, `rules[${i}] (id ${rule.meta.id}).id`, `duplicate rule id (also rules[${prev}])`);
    seen.set(rule.meta.id, i);
    out.push(rule);
  });
  return out;
}

