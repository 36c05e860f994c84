import type { DocumentBuilder } from '../ecs/builder.js';
import { mergeFields } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import { cloneJson, getField } from '../ecs/document.js';
import { Action, Dataset, F, Kind } from '../ecs/fields.js';
import type { AttackRef, ThreatRefs } from './attack.js';
import type { Hit, RuleMeta } from './types.js';

/** Top-level parts of the trigger an analyst needs in the alert itself. */
const COPIED = ['process', 'source', 'destination', 'server', 'network', 'user', 'container'] as const;
const COPIED_PORTWARDEN = ['lineage', 'listener', 'process'] as const;

/** ECS `threat.*`: the first mapping, then any further tactics and techniques, each id once. */
function threatBlock(t: ThreatRefs, more: readonly ThreatRefs[] = []): Record<string, unknown> {
  const lists = (refs: (AttackRef | undefined)[]) => {
    const seen = new Map<string, AttackRef>();
    for (const r of refs) if (r !== undefined && !seen.has(r.id)) seen.set(r.id, r);
    const all = [...seen.values()];
    return { id: all.map((r) => r.id), name: all.map((r) => r.name), reference: all.map((r) => r.reference) };
  };
  const every = [t, ...more];
  const technique: Record<string, unknown> = lists(every.map((x) => x.technique));
  if (every.some((x) => x.subtechnique !== undefined)) technique.subtechnique = lists(every.map((x) => x.subtechnique));
  return { framework: 'MITRE ATT&CK', tactic: lists(every.map((x) => x.tactic)), technique };
}

/**
 * The `portwarden.alerts` document for one hit: rule, threat, severity and reason, plus the
 * trigger's process/network/user/container fields and lineage, and the trigger's `event.id`.
 */
export function buildAlert(builder: DocumentBuilder, trigger: EcsDocument, rule: RuleMeta, hit: Hit, severity: number): EcsDocument {
  const listener = rule.family === 'listener';
  const connection = rule.family === 'connection';
  const base = builder.base({
    dataset: Dataset.alerts,
    kind: Kind.alert,
    action: listener ? Action.unusualListener : connection ? Action.suspiciousConnection : Action.unusualParentChild,
    category: listener || connection ? ['process', 'intrusion_detection', 'network'] : ['process', 'intrusion_detection'],
    type: ['info'],
    message: rule.name,
    timestamp: trigger['@timestamp'],
  });
  base.event.reason = hit.reason;
  base.event.severity = severity;
  base.event.risk_score = hit.riskScore ?? (severity === rule.severity ? rule.riskScore : severity);
  const copied: Record<string, unknown> = {};
  // The trigger's host (the same as ours live; the recorded one in replay).
  if (trigger.host !== null && typeof trigger.host === 'object') {
    const host = cloneJson(trigger.host) as Record<string, unknown>;
    // Foreign recordings may lack host.id (required here): the recorded name stands in for it.
    host.id ??= host.name ?? host.hostname ?? builder.host.id;
    copied.host = host;
  }
  for (const k of COPIED) {
    const v = trigger[k];
    if (v !== undefined) copied[k] = cloneJson(v);
  }
  dropNonEcs(copied.process);
  const pw: Record<string, unknown> = {};
  for (const k of COPIED_PORTWARDEN) {
    const v = getField(trigger, `portwarden.${k}`);
    if (v !== undefined) pw[k] = cloneJson(v);
  }
  const related: Record<string, unknown> = {};
  for (const k of ['ip', 'user', 'hash'] as const) {
    const v = getField(trigger, `related.${k}`);
    if (Array.isArray(v) && v.length > 0) related[k] = (v as unknown[]).slice();
  }
  if (hit.portwarden !== undefined) Object.assign(pw, structuredClone(hit.portwarden));
  pw.alert = {
    trigger_event_id: trigger.event.id,
    trigger_action: trigger.event.action,
    ...(rule.references.length > 1 ? { references: rule.references } : {}),
  };
  const ruleBlock: Record<string, unknown> = {
    id: rule.id,
    name: rule.name,
    ruleset: rule.ruleset,
    version: rule.version,
    description: rule.description,
    category: listener ? 'unusual_listener' : connection ? 'suspicious_connection' : 'unusual_parent_child',
  };
  const ref = rule.references[0];
  if (ref !== undefined) ruleBlock.reference = ref;
  if (rule.author !== undefined) ruleBlock.author = rule.author;
  if (rule.license !== undefined) ruleBlock.license = rule.license;
  const doc = mergeFields(base, {
    ...copied,
    rule: ruleBlock,
    threat: hit.threat === undefined ? threatBlock(rule.threat, rule.moreThreats) : threatBlock(hit.threat),
    portwarden: pw,
    ...(Object.keys(related).length > 0 ? { related } : {}),
  }) as EcsDocument;
  if (copied.host !== undefined) doc.host = copied.host;
  return doc;
}

/** ECS has no `process.user.domain` (only top-level `user.domain`); alerts must validate. */
function dropNonEcs(process: unknown): void {
  for (const p of [process, getField(process, 'parent')]) {
    const user = getField(p, 'user');
    if (user !== null && typeof user === 'object') delete (user as Record<string, unknown>).domain;
  }
}

/** Identity the "fire once" memory uses: the listener (netns, transport, address, port, owner) or the process entity. */
export function identityOf(doc: EcsDocument, listener: boolean): string {
  const s = (p: string) => {
    const v = getField(doc, p);
    return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  };
  const owner = s(F.processEntityId) || `${s(F.hostId)}:${s(F.processPid)}:${s(F.processStart)}`;
  if (!listener) return `${s(F.hostId)}|${owner}`;
  return [s(F.hostId), s(F.listenerNetns), s(F.networkTransport), s(F.destinationAddress) || s(F.destinationIp), s(F.destinationPort), owner].join('|');
}
