import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { customMapping, deployDir, readDeploy, samples } from './content.js';
import { checkRefs } from './field-check.js';
import { inLogsource, matchCondition } from './sigma-eval.js';
import type { Pipeline } from './sigma-eval.js';

interface Transformation {
  id: string;
  type: string;
  conditions?: Record<string, string | string[]>;
  mapping?: Record<string, string>;
  rule_conditions?: { type: string; product?: string; category?: string }[];
}

function pipeline(): Pipeline {
  const p = parse(readDeploy('sigma', 'pipelines', 'portwarden-ecs.yml')) as { name: string; priority: number; transformations: Transformation[] };
  assert.equal(typeof p.name, 'string');
  const mapping = p.transformations.find((x) => x.type === 'field_name_mapping')?.mapping;
  assert.ok(mapping !== undefined, 'no field_name_mapping');
  const logsources = new Map<string, Record<string, string[]>>();
  for (const x of p.transformations.filter((y) => y.type === 'add_condition')) {
    const rc = x.rule_conditions?.[0];
    assert.ok(rc?.type === 'logsource' && rc.product === 'portwarden' && rc.category !== undefined, `${x.id}: expected a portwarden logsource condition`);
    logsources.set(rc.category, Object.fromEntries(Object.entries(x.conditions ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])));
  }
  return { mapping, logsources };
}

interface SigmaRule {
  title: string;
  id: string;
  status: string;
  level: string;
  logsource: { product: string; category: string };
  detection: Record<string, unknown>;
  tags?: string[];
}

const rules = (): [string, SigmaRule][] =>
  readdirSync(join(deployDir, 'sigma', 'rules')).filter((f) => f.endsWith('.yml')).map((f) => [f, parse(readDeploy('sigma', 'rules', f)) as SigmaRule]);

test('the pipeline defines the listener, process_creation and network_connection log sources and maps fields to ECS our events carry', async () => {
  const p = pipeline();
  assert.deepEqual([...p.logsources.keys()].sort(), ['listener', 'network_connection', 'process_creation']);
  const docs = (await samples()).all;
  for (const [category, conds] of p.logsources) {
    assert.ok(docs.some((d) => inLogsource(d, category, p)), `no event belongs to ${category}`);
    assert.deepEqual(checkRefs(Object.keys(conds).map((field) => ({ field, where: `logsource ${category}` })), docs, customMapping()), []);
  }
  const refs = Object.entries(p.mapping).map(([sigma, field]) => ({ field, where: `Sigma field ${sigma}` }));
  assert.deepEqual(checkRefs(refs, docs, customMapping()), []);
});

test('every Sigma rule is well formed, uses a documented log source and mapped fields', () => {
  const p = pipeline();
  const list = rules();
  assert.ok(list.length >= 4);
  const ids = new Set<string>();
  for (const [file, r] of list) {
    assert.match(file, /^portwarden_[a-z0-9_]+\.yml$/);
    assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, file);
    assert.ok(!ids.has(r.id), `${file}: duplicate id`);
    ids.add(r.id);
    assert.ok(['experimental', 'test', 'stable'].includes(r.status), file);
    assert.ok(['informational', 'low', 'medium', 'high', 'critical'].includes(r.level), file);
    assert.equal(r.logsource.product, 'portwarden', file);
    assert.ok(p.logsources.has(r.logsource.category), `${file}: undocumented log source ${r.logsource.category}`);
    assert.ok((r.tags ?? []).some((tag) => /^attack\.t\d{4}/.test(tag)), `${file}: no ATT&CK technique tag`);
    for (const [name, sel] of Object.entries(r.detection)) {
      if (name === 'condition') continue;
      for (const s of Array.isArray(sel) ? sel : [sel]) {
        for (const key of Object.keys(s as object)) {
          const field = key.split('|')[0] ?? '';
          assert.ok(p.mapping[field] !== undefined, `${file}: ${field} has no ECS mapping in the pipeline`);
        }
      }
    }
  }
});

test('every Sigma rule matches the malicious samples of its log source and no benign one', async () => {
  const p = pipeline();
  const docs = (await samples()).all.filter((d) => d.event.kind !== 'alert');
  // The samples' malicious chain: nginx -> sh -> /tmp/.x/nc (deleted) listening on 0.0.0.0:4444, sh connecting out.
  const malicious = (d: (typeof docs)[number]) => ['sh', 'nc'].includes(String((d.process as { name?: string } | undefined)?.name));
  for (const [file, r] of rules()) {
    const pool = docs.filter((d) => inLogsource(d, r.logsource.category, p));
    const hits = pool.filter((d) => matchCondition(d, r.detection, p));
    assert.ok(hits.length > 0, `${file} matches none of the ${pool.length} ${r.logsource.category} samples`);
    if (file.includes('sensitive_port')) continue;
    const benign = hits.filter((d) => !malicious(d));
    assert.deepEqual(benign.map((d) => `${d.event.action} ${String((d.process as { executable?: string } | undefined)?.executable)}`), [], `${file} matched benign samples`);
  }
});
