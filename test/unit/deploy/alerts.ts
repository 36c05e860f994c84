/**
 * Alert documents for the SIEM-content checks. When the detection engine exists
 * (`agent/detect/index.js` exporting `createDetectionEngine`), its alerts for the sample triggers
 * are used; otherwise alerts are built on the same DocumentBuilder base with the fields DESIGN.md
 * gives alerts (message, event.reason, severity, risk score, rule.*, threat.*, trigger fields).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mergeFields } from '../../../agent/ecs/builder.js';
import type { DocumentBuilder } from '../../../agent/ecs/builder.js';
import { getField } from '../../../agent/ecs/document.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { Action, Dataset, F, Kind } from '../../../agent/ecs/fields.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { EMBEDDED, parseConfig } from '../../../config/loader.js';

interface Engine { evaluate(doc: EcsDocument): EcsDocument[] | Promise<EcsDocument[]> }
type CreateEngine = (o: Record<string, unknown>) => Engine | Promise<Engine>;

/** Trigger fields an alert copies (DESIGN.md: the triggering event's process/destination/host/user fields). */
const COPIED = ['process', 'user', 'destination', 'server', 'network', 'container', 'portwarden', 'related'] as const;

function handBuilt(b: DocumentBuilder, trigger: EcsDocument, kind: 'listener' | 'process'): EcsDocument {
  const child = getField(trigger, F.processName);
  const listener = kind === 'listener';
  const base = b.base({
    dataset: Dataset.alerts,
    kind: Kind.alert,
    action: listener ? Action.unusualListener : Action.unusualParentChild,
    category: listener ? ['process', 'intrusion_detection', 'network'] : ['process', 'intrusion_detection'],
    type: ['info'],
    message: listener ? 'Netcat listening on a known bind-shell port' : `Web server descendant started ${String(child)}`,
  });
  const copied: Record<string, unknown> = {};
  for (const k of COPIED) if (trigger[k] !== undefined) copied[k] = structuredClone(trigger[k]);
  // The engine's shape: one technique object whose ECS fields are arrays.
  const technique = listener ? { id: ['T1571'], name: ['Non-Standard Port'], reference: ['https://attack.mitre.org/techniques/T1571/'] }
    : { id: ['T1505'], name: ['Server Software Component'], reference: ['https://attack.mitre.org/techniques/T1505/'], subtechnique: { id: ['T1505.003'], name: ['Web Shell'], reference: ['https://attack.mitre.org/techniques/T1505/003/'] } };
  const tactic = listener ? { id: ['TA0011'], name: ['Command and Control'], reference: ['https://attack.mitre.org/tactics/TA0011/'] }
    : { id: ['TA0003'], name: ['Persistence'], reference: ['https://attack.mitre.org/tactics/TA0003/'] };
  return mergeFields(mergeFields(base, copied), {
    event: { severity: 73, risk_score: 73, reason: listener ? 'nc owns 0.0.0.0:4444/tcp (known bind-shell port, exposed: any)' : `${String(child)} has nginx in its ancestry` },
    rule: {
      id: listener ? 'pw-listener-shell-or-netcat' : 'pw-pc-linux-webserver-shell', name: listener ? 'Shell or netcat owns a listener' : 'Web server spawned a shell',
      ruleset: 'portwarden-builtin', version: '1', description: 'built for the deploy content test', reference: 'https://attack.mitre.org/',
    },
    threat: { framework: 'MITRE ATT&CK', tactic, technique },
    portwarden: { alert: { trigger_event_id: getField(trigger, F.eventId), trigger_action: trigger.event.action } },
  }) as EcsDocument;
}

async function loadEngine(): Promise<CreateEngine | undefined> {
  const url = new URL('../../../agent/detect/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return undefined;
  const m = (await import(url.href)) as { createDetectionEngine?: CreateEngine };
  return m.createDetectionEngine;
}

/** Alerts for the sample triggers: from the engine when it exists and fires, else hand-built. */
export async function alertDocs(b: DocumentBuilder, triggers: { listener: EcsDocument; processes: EcsDocument[] }, stateDir: string): Promise<{ docs: EcsDocument[]; fromEngine: boolean }> {
  const create = await loadEngine();
  if (create !== undefined) {
    try {
      const config = parseConfig({}, EMBEDDED).config;
      const engine = await create({ config: config.detect, configFile: EMBEDDED, stateDir, builder: b, logger: silentLogger });
      const docs: EcsDocument[] = [];
      for (const trigger of [...triggers.processes, triggers.listener]) docs.push(...await engine.evaluate(trigger));
      const actions = new Set(docs.map((d) => d.event.action));
      if (actions.has(Action.unusualListener) && actions.has(Action.unusualParentChild)) return { docs, fromEngine: true };
    } catch {
      // An engine with another signature: fall back, the test reports which alerts it used.
    }
  }
  return { docs: [...triggers.processes.map((p) => handBuilt(b, p, 'process')), handBuilt(b, triggers.listener, 'listener')], fromEngine: false };
}
