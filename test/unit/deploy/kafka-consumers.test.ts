import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { Dataset } from '../../../agent/ecs/fields.js';
import { sourcetypeOf } from '../../../transports/http/encoder-splunk.js';
import { readDeploy } from './content.js';

const DATASETS = Object.values(Dataset);

/** The topic template of the Kubernetes ConfigMap, filled for one dataset. */
function topicFor(dataset: string): string {
  const cm = parse(readDeploy('kubernetes', 'configmap.yaml')) as { data: Record<string, string> };
  const cfg = parse(cm.data['portwarden.yml'] ?? '') as { outputs: { type: string; topic: string }[] };
  const kafka = cfg.outputs.find((o) => o.type === 'kafka');
  assert.ok(kafka !== undefined);
  return kafka.topic.replace('{event.dataset}', dataset);
}

test('Splunk Connect for Kafka maps each topic to the sourcetype the add-on expects', () => {
  const c = JSON.parse(readDeploy('kafka', 'splunk-connect-kafka.json')) as { config: Record<string, string> };
  const list = (k: string) => (c.config[k] ?? '').split(',');
  const topics = list('topics');
  assert.deepEqual([...topics].sort(), DATASETS.map(topicFor).sort());
  const sourcetypes = list('splunk.sourcetypes');
  assert.equal(sourcetypes.length, topics.length, 'one sourcetype per topic, in order');
  for (const [i, topic] of topics.entries()) {
    const dataset = DATASETS.find((d) => topicFor(d) === topic) ?? '';
    const doc = { event: { dataset } } as unknown as EcsDocument;
    assert.equal(sourcetypes[i], sourcetypeOf({ doc, json: '' }), topic);
  }
  assert.equal(c.config['splunk.hec.ack.enabled'], 'true', 'without HEC acks a connector restart can lose events');
});

test('the Logstash pipeline reads every portwarden topic and writes idempotently to the data streams', () => {
  const conf = readDeploy('kafka', 'logstash-portwarden.conf');
  const pattern = /topics_pattern => "([^"]+)"/.exec(conf)?.[1];
  assert.ok(pattern !== undefined);
  const re = new RegExp(`^${pattern.replace(/\\\\/g, '\\')}$`);
  for (const d of DATASETS) assert.match(topicFor(d), re);
  assert.match(conf, /codec => json/);
  assert.match(conf, /document_id => "%\{\[event\]\[id\]\}"/);
  assert.match(conf, /action => "create"/);
  assert.match(conf, /data_stream_auto_routing => "true"/);
});
