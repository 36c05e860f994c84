// Fleet health content: the Kibana saved searches (Discover, ES|QL) for agents gone silent and
// agents losing events read fields the heartbeat really carries (the samples' heartbeats are built
// by the real Telemetry with the real healthOf block the agent adds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthOf } from '../../../agent/app/status.js';
import { Dataset } from '../../../agent/ecs/fields.js';
import { customMapping, esqlOf, kibanaRules, kibanaSavedSearches, readDeploy, samples } from './content.js';
import type { SavedSearch } from './content.js';
import { checkRefs, checkValues } from './field-check.js';
import { esqlFields, splFields } from './query-fields.js';
import { parseConf } from './splunk-conf.js';

/** The fleet-health ones (the others are about connections: connection-content.test.ts). */
const savedSearches = (): SavedSearch[] => kibanaSavedSearches().filter((s) => s.id.startsWith('portwarden-agents-'));

/** The heartbeat's health fields, as the agent computes them. */
const HEALTH_FIELDS = Object.keys(healthOf({
  startedMs: 0, stats: { received: 0, dropped: {}, lost: 0, outputs: [] }, detection: { enabled: false, rules: 0, disabledRules: 0, allowlistEntries: 0, sensitivePorts: 0 },
  realtime: null, overlays: {}, lastReload: undefined,
})).map((k) => `portwarden.health.${k}`);

test('the Kibana saved searches are importable ES|QL Discover searches for silent agents and agents losing events', () => {
  const all = savedSearches();
  assert.deepEqual(all.map((s) => s.attributes.title), ['portwarden: agents silent > 15 min', 'portwarden: agents losing events']);
  assert.equal(new Set(all.map((s) => s.id)).size, all.length);
  for (const s of all) {
    assert.equal(s.type, 'search');
    assert.equal(s.attributes.isTextBasedQuery, true);
    assert.match(esqlOf(s), /^FROM logs-portwarden\.agent-\*\n/);
    assert.ok(s.attributes.description.length > 40);
  }
  assert.match(esqlOf(all[0]!), /last_heartbeat < NOW\(\) - 15 minutes/);
});

test('fleet health searches (Kibana, Elastic rule, Splunk) read heartbeat fields that exist, with values that occur', async () => {
  const docs = (await samples()).all;
  const mapped = customMapping();
  const agentDocs = docs.filter((d) => d.event.dataset === Dataset.agent);
  const queries: [string, string[], { field: string; value: string }[]][] = savedSearches().map((s) => {
    const ex = esqlFields(esqlOf(s));
    return [s.attributes.title, ex.fields, ex.values];
  });
  const rule = kibanaRules().find((r) => r.name === 'portwarden: Agent Losing Events');
  assert.ok(rule);
  const rx = esqlFields(rule.query);
  queries.push([rule.name, rx.fields, rx.values]);
  const spl = parseConf(readDeploy('splunk', 'TA-portwarden', 'default', 'savedsearches.conf'), 'savedsearches.conf').stanzas.get('portwarden - Agent Losing Events')?.get('search');
  assert.ok(spl !== undefined);
  const sx = splFields(spl);
  queries.push(['splunk: Agent Losing Events', sx.fields, sx.values]);
  let healthRefs = 0;
  for (const [where, fields, values] of queries) {
    assert.deepEqual(checkRefs(fields.map((field) => ({ field, where, datasets: [Dataset.agent] })), agentDocs, mapped), [], where);
    assert.deepEqual(checkValues(values.map((v) => ({ ...v, where })), agentDocs), [], where);
    for (const f of fields.filter((x) => x.startsWith('portwarden.health.'))) {
      assert.ok(HEALTH_FIELDS.includes(f), `${where}: ${f} is not a heartbeat health field (${HEALTH_FIELDS.join(', ')})`);
      healthRefs++;
    }
  }
  assert.ok(healthRefs >= 6, 'the losing-events searches read the heartbeat health block');
});

test('every heartbeat health field is mapped in the component template', () => {
  const mapped = customMapping();
  for (const f of HEALTH_FIELDS) assert.ok(mapped.has(f), `${f} is not in logs-portwarden@custom`);
});
