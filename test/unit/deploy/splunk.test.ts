import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { sourcetypeOf } from '../../../transports/http/encoder-splunk.js';
import { customMapping, deployDir, readDeploy, samples } from './content.js';
import { checkRefs, checkValues, valuesAt } from './field-check.js';
import type { FieldRef } from './field-check.js';
import { SPLUNK_BUILTIN, splFields } from './query-fields.js';
import { fieldAliasPairs, parseConf } from './splunk-conf.js';

const TA = ['splunk', 'TA-portwarden', 'default'];
const conf = (name: string) => {
  const c = parseConf(readDeploy(...TA, name), name);
  assert.deepEqual(c.problems, [], name);
  return c.stanzas;
};

/**
 * Fields each CIM dataset needs, from Splunk_SA_CIM's models as pytest-splunk-addon ships them
 * (standard_lib/data_models/Endpoint.json, Network_Traffic.json and Alerts.json): required ones, plus the optional
 * ones portwarden has data for. Ports' src/src_port describe a remote peer, which a listening
 * socket does not have: they are deliberately not produced (docs/deploying.md).
 */
const CIM = {
  Ports: { tags: ['listening', 'port'], fields: ['dest', 'dest_port', 'state', 'transport', 'creation_time', 'process_guid', 'process_id', 'user', 'original_file_name'] },
  Processes: {
    tags: ['process', 'report'],
    fields: ['action', 'dest', 'parent_process_id', 'parent_process_name', 'parent_process_path', 'process', 'process_exec', 'process_id', 'process_name', 'process_path', 'user',
      'os', 'parent_process', 'parent_process_exec', 'parent_process_guid', 'process_current_directory', 'process_hash', 'process_guid', 'user_id', 'vendor_product', 'original_file_name'],
  },
  Network_Traffic: {
    tags: ['network', 'communicate'],
    fields: ['action', 'dest', 'dest_ip', 'dest_port', 'src', 'src_ip', 'src_port', 'transport', 'direction', 'bytes', 'bytes_in', 'bytes_out', 'process_id', 'process_name', 'user', 'vendor_product'],
  },
  Alerts: { tags: ['alert'], fields: ['app', 'body', 'dest', 'id', 'severity', 'type', 'description', 'mitre_technique_id', 'signature', 'signature_id', 'severity_id', 'subject'] },
} as const;

/** CIM field -> ECS fields it reads, per sourcetype, from FIELDALIAS and EVAL. */
function produced(): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const [sourcetype, keys] of conf('props.conf')) {
    const fields = new Map<string, string[]>();
    for (const [key, value] of keys) {
      if (key.startsWith('FIELDALIAS-')) for (const [src, dst] of fieldAliasPairs(value)) fields.set(dst, [src]);
      if (key.startsWith('EVAL-')) {
        const ex = splFields(value);
        assert.deepEqual(ex.bare, [], `${sourcetype} ${key}: unquoted field names (quote dotted names as 'a.b')`);
        fields.set(key.slice(5), ex.fields);
      }
    }
    out.set(sourcetype, fields);
  }
  return out;
}

const datasetOf = (docs: readonly EcsDocument[], sourcetype: string) => docs.filter((d) => sourcetypeOf({ doc: d, json: '' }) === sourcetype);

test('every .conf file of the add-on parses: stanzas, keys, no duplicates', () => {
  const files = readdirSync(join(deployDir, ...TA)).filter((f) => f.endsWith('.conf'));
  assert.deepEqual(files.sort(), ['app.conf', 'eventtypes.conf', 'props.conf', 'savedsearches.conf', 'tags.conf']);
  for (const f of files) assert.ok(conf(f).size > 0, `${f} has no stanza`);
  const meta = parseConf(readDeploy('splunk', 'TA-portwarden', 'metadata', 'default.meta'), 'default.meta');
  assert.deepEqual(meta.problems, []);
  assert.equal(meta.stanzas.get('')?.get('export'), 'system', 'knowledge objects must be global for the CIM models');
});

test('props.conf has a stanza for each sourcetype the HEC output sets, and reads only fields our events carry', async () => {
  const docs = (await samples()).all;
  const props = produced();
  const sourcetypes = new Set(docs.map((d) => sourcetypeOf({ doc: d, json: '' })));
  assert.deepEqual([...props.keys()].sort(), [...sourcetypes].sort());
  for (const [sourcetype, fields] of props) {
    const pool = datasetOf(docs, sourcetype);
    const refs: FieldRef[] = [...fields].flatMap(([cim, srcs]) => srcs.map((field) => ({ field, where: `props [${sourcetype}] ${cim}`, splunk: true })));
    assert.deepEqual(checkRefs(refs, pool, customMapping()), [], sourcetype);
    assert.equal(conf('props.conf').get(sourcetype)?.get('KV_MODE'), 'json');
  }
});

test('each CIM dataset (Ports, Processes, Network_Traffic, Alerts) gets its tags and the fields it needs', async (t) => {
  const docs = (await samples()).all;
  const props = produced();
  const eventtypes = conf('eventtypes.conf');
  const tags = conf('tags.conf');
  for (const [model, need] of Object.entries(CIM)) {
    const tagged = [...tags].filter(([, kv]) => need.tags.every((tag) => kv.get(tag) === 'enabled')).map(([s]) => s.replace(/^eventtype=/, ''));
    assert.equal(tagged.length, 1, `${model}: one event type tagged ${need.tags.join(' + ')}`);
    const search = eventtypes.get(tagged[0] ?? '')?.get('search') ?? '';
    const sourcetype = /sourcetype="([^"]+)"/.exec(search)?.[1] ?? '';
    const ex = splFields(search);
    assert.deepEqual(checkValues(ex.values.map((v) => ({ ...v, where: `eventtype ${tagged[0] ?? ''}` })), datasetOf(docs, sourcetype)), []);
    const fields = props.get(sourcetype);
    assert.ok(fields !== undefined, `${model}: no props for ${sourcetype}`);
    for (const f of need.fields) {
      const srcs = fields.get(f);
      assert.ok(srcs !== undefined, `${model}: ${f} is not produced for ${sourcetype}`);
      // Constant EVALs (app, type, action ...) read nothing; others must have data in some event.
      if (srcs.length === 0) continue;
      const pool = datasetOf(docs, sourcetype);
      const have = pool.filter((d) => srcs.some((s) => valuesAt(d, s, true).length > 0)).length;
      assert.ok(have > 0, `${model}: ${f} (${srcs.join(', ')}) is empty in every ${sourcetype} event`);
      if (have < pool.length) t.diagnostic(`${model}.${f}: set in ${have} of ${pool.length} sample ${sourcetype} events`);
    }
  }
});

test('saved searches read fields that exist and values that occur', async () => {
  const docs = (await samples()).all;
  const props = produced();
  const searches = conf('savedsearches.conf');
  assert.equal(searches.size, 7);
  for (const [name, kv] of searches) {
    for (const k of ['search', 'cron_schedule', 'dispatch.earliest_time', 'description']) assert.ok(kv.has(k), `${name}: no ${k}`);
    assert.equal(kv.get('disabled'), '1', `${name}: ship disabled`);
    const search = kv.get('search') ?? '';
    const sourcetypes = [...search.matchAll(/sourcetype="([^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(sourcetypes.length > 0, `${name}: no sourcetype`);
    const pool = docs.filter((d) => sourcetypes.includes(sourcetypeOf({ doc: d, json: '' })));
    const ex = splFields(search);
    assert.deepEqual(checkRefs(ex.fields.map((field) => ({ field, where: name, splunk: true })), pool, customMapping()), []);
    assert.deepEqual(checkValues(ex.values.map((v) => ({ ...v, where: name })), pool), []);
    const cim = new Set(sourcetypes.flatMap((s) => [...(props.get(s)?.keys() ?? [])]));
    for (const bare of ex.bare) {
      assert.ok(cim.has(bare) || ex.defined.includes(bare) || SPLUNK_BUILTIN.has(bare), `${name}: ${bare} is neither produced by props.conf for ${sourcetypes.join(', ')} nor defined in the search`);
    }
  }
});
