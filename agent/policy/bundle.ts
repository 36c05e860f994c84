/**
 * The bundle's content (the signed payload) and its validation into plain data. Loads zod and yaml:
 * the start-up worker (at start and at each reload) and the `policy` commands use it, never the
 * long-running isolate, which only verifies signatures (envelope.ts).
 */
import { z } from 'zod';
import { formatPath } from '../../config/loader.js';
import { Allowlist } from '../detect/allowlist.js';
import { allowEntrySchema, sensitivePortSchema } from '../detect/config.js';
import type { AllowEntry, SensitivePortConfig } from '../detect/config.js';
import { parseRuleText } from '../detect/load.js';
import { buildRule } from '../detect/rules.js';
import type { RuleSource } from '../detect/rules.js';
import { ConfigError, errorMessage } from '../util/errors.js';

export const BUNDLE_FORMAT = 'portwarden-policy/1';

const ruleText = z.strictObject({
  name: z.string().min(1).max(200).describe('a name for errors and provenance, e.g. the file name it came from'),
  text: z.string().describe('a rule file: a portwarden rule pack or Sigma process_creation documents (YAML)'),
});

export const bundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT).describe('the content format'),
  version: z.string().min(1).max(128).describe('what `portwarden status`, the log and the policy events report'),
  created: z.iso.datetime({ offset: true }).describe('when it was signed; an agent refuses a bundle older than the one it applied'),
  rules: z.array(ruleText).default([]).describe('rule files, added to the local ones; a rule id defined locally is replaced'),
  allowlist: z.array(allowEntrySchema).default([]).describe('added to detect.allowlist'),
  sensitive_ports: z.array(sensitivePortSchema).default([])
    .describe('added to detect.sensitive_ports; the same transport+port replaces a local entry'),
  disabled_rules: z.array(z.string()).default([]).describe('added to detect.disabled_rules'),
}).superRefine((b, ctx) => {
  b.allowlist.forEach((e, i) => {
    try {
      new Allowlist([e], '');
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['allowlist', i, 'cidrs'], message: err instanceof ConfigError ? err.expected : errorMessage(err) });
    }
  });
});
export type BundleContent = z.output<typeof bundleSchema>;

/**
 * A validated bundle as plain data (posted by the validation worker): the rules are validated and
 * compile. Shaped as the agent's detection overlay (agent/app/overlay.ts).
 */
export interface PolicyOverlay {
  version: string;
  created: string;
  rules: RuleSource[];
  allowlist: AllowEntry[];
  sensitivePorts: SensitivePortConfig[];
  disabledRules: string[];
}

/** `where` names the bundle in errors, e.g. `policy bundle 2026-12-01.1`. */
export function validateBundle(payload: unknown, where: string): PolicyOverlay {
  let raw: unknown = payload;
  if (Buffer.isBuffer(payload)) {
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      throw new ConfigError(where, '', `JSON (${errorMessage(err)})`);
    }
  }
  const parsed = bundleSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(where, formatPath(issue?.path ?? []), issue?.message ?? 'a portwarden policy bundle');
  }
  const b = parsed.data;
  const rules: RuleSource[] = [];
  const seen = new Map<string, string>();
  b.rules.forEach((r, i) => {
    const file = `${where}: rules[${i}] (${r.name})`;
    for (const rule of parseRuleText(r.text, file)) {
      const prev = seen.get(rule.spec.id);
      if (prev !== undefined) throw new ConfigError(file, `rule ${rule.spec.id}`, `duplicate rule id (already defined in ${prev})`);
      seen.set(rule.spec.id, r.name);
      buildRule(rule);
      rules.push(rule);
    }
  });
  return { version: b.version, created: b.created, rules, allowlist: b.allowlist, sensitivePorts: b.sensitive_ports, disabledRules: b.disabled_rules };
}

/** Counts for logs, events and `policy verify`. */
export function overlaySummary(o: PolicyOverlay): string {
  return `${o.rules.length} rules, ${o.allowlist.length} allowlist entries, ${o.sensitivePorts.length} sensitive-port entries, ${o.disabledRules.length} disabled rules`;
}
