// Connection content: the Kibana saved searches and Splunk saved searches for relay alerts and
// shells connecting out read fields the real connection_attempted documents and pw-listener-relay
// alerts carry (built by the agent's builder and detection engine in sample-events.ts / alerts.ts),
// and the values they compare (rule id, action, shell name) occur in them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { Action, Dataset } from '../../../agent/ecs/fields.js';
import { builtinRulesDir } from '../../../agent/detect/load.js';
import { RELAY_RULE_ID } from '../../../agent/detect/relay-detector.js';
import { sourcetypeOf } from '../../../transports/http/encoder-splunk.js';
import { customMapping, esqlOf, kibanaSavedSearches, readDeploy, samples } from './content.js';
import { checkRefs, checkValues, valuesAt } from './field-check.js';
import { esqlFields, splFields } from './query-fields.js';
import { parseConf } from './splunk-conf.js';

/** Saved search -> what it must find in the samples: [field, value] pairs one document has together. */
const SEARCHES = {
  relay: { kibana: 'portwarden-listener-relays', splunk: 'portwarden - Listener Relays Connections to Another Host', dataset: Dataset.alerts, finds: [['rule.id', RELAY_RULE_ID]] },
  shells: { kibana: 'portwarden-shells-connecting-out', splunk: 'portwarden - Shell Connects Out', dataset: Dataset.network, finds: [['event.action', Action.connectionAttempted], ['process.name', 'sh']] },
} as const;

const has = (d: EcsDocument, field: string, value: string) => valuesAt(d, field).map(String).includes(value);

test('the connection saved searches (Kibana ES|QL, Splunk) read fields the connection events and relay alerts carry', async () => {
  const docs = (await samples()).all;
  const mapped = customMapping();
  const splunk = parseConf(readDeploy('splunk', 'TA-portwarden', 'default', 'savedsearches.conf'), 'savedsearches.conf').stanzas;
  for (const [what, s] of Object.entries(SEARCHES)) {
    const pool = docs.filter((d) => d.event.dataset === s.dataset);
    assert.ok(pool.some((d) => s.finds.every(([f, v]) => has(d, f, v))), `${what}: no sample event the search is for`);
    const kibana = kibanaSavedSearches().find((k) => k.id === s.kibana);
    assert.ok(kibana !== undefined, `${what}: no Kibana saved search ${s.kibana}`);
    const esql = esqlOf(kibana);
    assert.match(esql, new RegExp(`^FROM logs-${s.dataset.replace('.', '\\.')}-\\*\\n`));
    const spl = splunk.get(s.splunk)?.get('search');
    assert.ok(spl !== undefined, `${what}: no Splunk saved search ${s.splunk}`);
    for (const [where, ex] of [[kibana.attributes.title, esqlFields(esql)], [s.splunk, splFields(spl)]] as const) {
      const sub = where === s.splunk ? pool.filter((d) => sourcetypeOf({ doc: d, json: '' }) === sourcetypeOf({ doc: pool[0]!, json: '' })) : pool;
      assert.deepEqual(checkRefs(ex.fields.map((field) => ({ field, where, splunk: where === s.splunk })), sub, mapped), [], where);
      assert.deepEqual(checkValues(ex.values.map((v) => ({ ...v, where })), sub), [], where);
      // The literals that pick the events out must be in the query as the samples carry them.
      for (const [f, v] of s.finds) assert.ok(ex.values.some((x) => (x.field === f || (f === 'process.name' && x.field === 'process_name')) && x.value === v), `${where}: does not select ${f} "${v}"`);
    }
  }
});

test('the shell searches and the Sigma rule look for the names the built-in rule pw-lnx-shell-connects-out does', () => {
  const pack = parse(readFileSync(join(builtinRulesDir(), 'linux-connections.yaml'), 'utf8')) as { rules: { id: string; when: Record<string, unknown> }[] };
  const names = pack.rules.find((r) => r.id === 'pw-lnx-shell-connects-out')?.when['process.name'];
  assert.ok(Array.isArray(names) && names.includes('bash'), 'the built-in rule lists shell names');
  const want = [...(names as string[])].sort();
  const quoted = (list: string) => [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '').sort();
  const kibana = kibanaSavedSearches().find((k) => k.id === SEARCHES.shells.kibana);
  assert.ok(kibana !== undefined);
  assert.deepEqual(quoted(/process\.name IN \(([^)]*)\)/.exec(esqlOf(kibana))?.[1] ?? ''), want, 'Kibana saved search');
  const spl = parseConf(readDeploy('splunk', 'TA-portwarden', 'default', 'savedsearches.conf'), 'savedsearches.conf').stanzas.get(SEARCHES.shells.splunk)?.get('search') ?? '';
  assert.deepEqual(quoted(/process_name IN \(([^)]*)\)/.exec(spl)?.[1] ?? ''), want, 'Splunk saved search');
  const sigma = parse(readDeploy('sigma', 'rules', 'portwarden_net_shell_connects_out.yml')) as { detection: { selection: Record<string, string[]> } };
  assert.deepEqual((sigma.detection.selection['Image|endswith'] ?? []).map((s) => s.replace(/^\//, '')).sort(), want, 'Sigma rule');
});
