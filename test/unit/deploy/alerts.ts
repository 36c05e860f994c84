/**
 * Alert documents for the SIEM-content checks, raised by the real detection engine on the sample
 * triggers; a test fails if the engine stops raising any of the three alert kinds for them.
 */
import assert from 'node:assert/strict';
import type { DocumentBuilder } from '../../../agent/ecs/builder.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { Action } from '../../../agent/ecs/fields.js';
import { createDetectionEngine } from '../../../agent/detect/index.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { EMBEDDED } from '../../../config/loader.js';
import { parseConfig } from '../../../agent/app/config.js';
import { RELAY_RULE_ID } from '../../../agent/detect/relay-detector.js';
import type { Triggers } from './sample-events.js';

export function alertDocs(b: DocumentBuilder, triggers: Triggers, stateDir: string): EcsDocument[] {
  const config = parseConfig({}, EMBEDDED).config;
  const engine = createDetectionEngine({ config: config.detect, configFile: EMBEDDED, stateDir, builder: b, logger: silentLogger });
  const docs = [...triggers.processes, triggers.listener, ...triggers.connections].flatMap((trigger) => engine.evaluate(trigger));
  const actions = new Set(docs.map((d) => d.event.action));
  assert.ok(actions.has(Action.unusualListener) && actions.has(Action.unusualParentChild), 'the sample triggers raise both alert kinds');
  const relay = docs.filter((d) => d.event.action === Action.suspiciousConnection && (d.rule as { id?: string } | undefined)?.id === RELAY_RULE_ID);
  assert.equal(relay.length, 1, 'the sample connections raise the relay alert');
  assert.ok(docs.some((d) => (d.rule as { id?: string } | undefined)?.id === 'pw-lnx-shell-connects-out'), 'the shell\'s connection attempt raises the built-in shell rule');
  return docs;
}
