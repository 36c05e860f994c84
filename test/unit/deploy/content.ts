/** Loading the shipped SIEM content for the deploy tests. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../testkit/paths.js';
import { mappingFields } from './field-check.js';
import { buildSamples } from './sample-events.js';
import type { Samples } from './sample-events.js';

export const deployDir = join(repoRoot, 'deploy');
export const readDeploy = (...parts: string[]): string => readFileSync(join(deployDir, ...parts), 'utf8');

/** The component template's mapped custom fields: path -> type. */
export function customMapping(): Map<string, string> {
  const tpl = JSON.parse(readDeploy('elastic', 'logs-portwarden@custom.json')) as { template: { mappings: { properties: Record<string, unknown> } } };
  return mappingFields(tpl.template.mappings.properties);
}

let cached: Promise<Samples> | undefined;

/** The sample events (built once per test file, in a throw-away state dir). */
export function samples(): Promise<Samples> {
  cached ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-deploy-'));
    try {
      return await buildSamples(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return cached;
}

export interface KibanaRule {
  rule_id: string;
  name: string;
  description: string;
  type: string;
  language: string;
  query: string;
  index?: string[];
  risk_score: number;
  severity: string;
  from: string;
  interval: string;
  threshold?: { field: string[]; cardinality?: { field: string }[] };
  new_terms_fields?: string[];
  required_fields?: { name: string; type: string }[];
  alert_suppression?: { group_by: string[] };
  [key: string]: unknown;
}

export function kibanaRules(): KibanaRule[] {
  return readDeploy('elastic', 'detection-rules.ndjson').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as KibanaRule);
}

export interface SavedSearch {
  id: string;
  type: string;
  attributes: { title: string; description: string; isTextBasedQuery: boolean; kibanaSavedObjectMeta: { searchSourceJSON: string } };
}

/** deploy/elastic/saved-searches.ndjson: Kibana Discover searches (ES|QL). */
export const kibanaSavedSearches = (): SavedSearch[] => readDeploy('elastic', 'saved-searches.ndjson').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as SavedSearch);
export const esqlOf = (s: SavedSearch): string => (JSON.parse(s.attributes.kibanaSavedObjectMeta.searchSourceJSON) as { query: { esql: string } }).query.esql;
