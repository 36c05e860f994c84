import type { EcsDocument } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { OsType } from '../util/os.js';
import type { ThreatRefs } from './attack.js';
import type { FieldCache } from './matcher.js';

export type { OsType } from '../util/os.js';

/** Which documents a rule looks at: listener events, process events, or network connection events. */
export type Family = 'listener' | 'process' | 'connection';

/** The event actions of the listener family: a socket seen opening, or found open at start. */
export const LISTENER_ACTIONS: ReadonlySet<string> = new Set<string>([Action.listeningStarted, Action.listeningExisting]);

export const SEVERITY = { low: 21, medium: 47, high: 73, critical: 99 } as const;
export type SeverityName = keyof typeof SEVERITY;
export type Scope = 'any' | 'loopback' | 'link_local' | 'private' | 'public';

/** What an alert says about the rule that raised it (ECS `rule.*`, `threat.*`). */
export interface RuleMeta {
  id: string;
  name: string;
  description: string;
  ruleset: string;
  version: string;
  family: Family;
  /** Empty: every OS. */
  os: OsType[];
  severity: number;
  riskScore: number;
  /** Severity per listener scope (listener rules); overrides `severity` when the scope is listed. */
  severityByScope?: Partial<Record<Scope, number>>;
  threat: ThreatRefs;
  /** Further tactics and techniques (Sigma rules tag several). */
  moreThreats?: ThreatRefs[];
  references: string[];
  author?: string[];
  license?: string;
}

/**
 * One rule as users write it in YAML, after validation (rule-schema.ts checks that its zod schema
 * produces exactly this): plain data, so the running agent builds detectors without zod.
 */
export interface RuleSpec {
  id: string;
  name: string;
  description: string;
  applies_to: Family;
  os: OsType[];
  severity: SeverityName | number;
  risk_score?: number | undefined;
  severity_by_scope?: Partial<Record<Scope, SeverityName | number>> | undefined;
  tactic: string;
  technique: string;
  tactic_name?: string | undefined;
  technique_name?: string | undefined;
  tactics?: string[] | undefined;
  techniques?: string[] | undefined;
  references: string[];
  author?: string[] | undefined;
  license?: string | undefined;
  version?: string | undefined;
  enabled: boolean;
  when: unknown;
  unless?: unknown;
}

/** Why a detector fired: the reason text and, optionally, a severity other than the rule's. */
export interface Hit {
  reason: string;
  severity?: number;
  riskScore?: number;
  /** ATT&CK mapping of this hit when it differs from the rule's (e.g. per catalogue entry). */
  threat?: ThreatRefs;
  /** What the detector found besides the trigger's fields, added to the alert's `portwarden.*` (e.g. `relay`). */
  portwarden?: Record<string, unknown>;
}

/** What a detector may read besides the document. */
export interface DetectContext {
  os: OsType | undefined;
  /** Compare strings case-insensitively (Windows). */
  ci: boolean;
  /** Event time (ms), from `@timestamp`; the baseline's clock. */
  now: number;
  /** The document's field values as read so far by the rules of this evaluation (optional). */
  fields?: FieldCache;
}

/** One rule: a pure test of a document (the baseline detector keeps its own state). */
export interface Detector {
  meta: RuleMeta;
  /**
   * Clauses of lower-cased strings: whenever the rule can match, each clause has one string in the
   * document's text fields (prefilter.ts); undefined when none is known.
   */
  literals?: readonly (readonly string[])[] | undefined;
  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined;
}

/** Risk score that goes with a severity when a rule gives none. */
export function defaultRisk(severity: number): number {
  return severity;
}

export function severityOf(v: number | SeverityName): number {
  return typeof v === 'number' ? v : SEVERITY[v];
}
