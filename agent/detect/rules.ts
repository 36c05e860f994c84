/**
 * Building detectors from validated rules. Validation (zod, YAML) lives in rule-schema.ts and runs
 * in the start-up worker for the agent; this module is what the running agent keeps.
 */
import type { EcsDocument } from '../ecs/document.js';
import { ConfigError } from '../util/errors.js';
import { threatRefs } from './attack.js';
import { compileNode, RuleSyntaxError } from './matcher.js';
import { literalsOf } from './prefilter.js';
import type { Predicate } from './matcher.js';
import { defaultRisk, severityOf } from './types.js';
import type { DetectContext, Detector, Hit, RuleMeta, RuleSpec } from './types.js';

/** A validated, enabled rule and where it came from: plain data, built into a Detector by buildRule. */
export interface RuleSource {
  spec: RuleSpec;
  file: string;
  /** Index of the rule in its pack (of the YAML document for Sigma). */
  index: number;
  ruleset: string;
  /** The pack's version, for rules without their own. */
  packVersion: string;
}

export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out;
}

/** `rules[3] (id x).when.any[0]`: where in a rule file a problem is. */
export function ruleKey(index: number, id: string | undefined, path: readonly PropertyKey[]): string {
  return `rules[${index}]${id === undefined ? '' : ` (id ${id})`}${path.length > 0 ? `.${pathText(path)}` : ''}`;
}

/** A YAML rule compiled into a detector. */
class YamlRule implements Detector {
  constructor(readonly meta: RuleMeta, private readonly when: Predicate, private readonly unless: Predicate | undefined, readonly literals: readonly (readonly string[])[] | undefined) {}

  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined {
    const ev = this.when(doc, ctx.ci, ctx.fields);
    if (ev === undefined) return undefined;
    if (this.unless?.(doc, ctx.ci, ctx.fields) !== undefined) return undefined;
    const what = ev.length > 0 ? ev.join(', ') : 'condition held';
    return { reason: `${what}: ${this.meta.description || this.meta.name}` };
  }
}

/** Compiles a validated rule into a detector; throws ConfigError naming the file, the rule and the key. */
export function buildRule(src: RuleSource): Detector {
  const { spec: r, file, index } = src;
  let when: Predicate;
  let unless: Predicate | undefined;
  try {
    when = compileNode(r.when, ['when']);
    unless = r.unless === undefined ? undefined : compileNode(r.unless, ['unless']);
  } catch (err) {
    if (err instanceof RuleSyntaxError) throw new ConfigError(file, ruleKey(index, r.id, err.path), err.message);
    throw err;
  }
  const sev = severityOf(r.severity);
  const meta: RuleMeta = {
    id: r.id,
    name: r.name,
    description: r.description,
    ruleset: src.ruleset,
    version: r.version ?? src.packVersion,
    family: r.applies_to,
    os: r.os,
    severity: sev,
    riskScore: r.risk_score ?? defaultRisk(sev),
    threat: threatRefs(r.tactic, r.technique, { tactic: r.tactic_name, technique: r.technique_name }),
    references: r.references,
  };
  if (r.author !== undefined) meta.author = r.author;
  if (r.license !== undefined) meta.license = r.license;
  const more = [
    ...(r.tactics ?? []).map((t) => threatRefs(t, r.technique)),
    ...(r.techniques ?? []).map((t) => threatRefs(r.tactic, t)),
  ];
  if (more.length > 0) meta.moreThreats = more;
  if (r.severity_by_scope !== undefined) {
    meta.severityByScope = Object.fromEntries(Object.entries(r.severity_by_scope).map(([k, v]) => [k, severityOf(v)]));
  }
  return new YamlRule(meta, when, unless, literalsOf(r.when));
}
