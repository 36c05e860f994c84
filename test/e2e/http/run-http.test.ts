import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getField } from '../../../agent/ecs/document.js';
import { F } from '../../../agent/ecs/fields.js';
import { readNdjson, startAgent } from '../../helpers/agent-process.js';
import { startListenerChain } from '../../helpers/listeners.js';
import { ElasticsearchPeer } from '../../integration/http/peers/elasticsearch-peer.js';
import { SplunkHecPeer } from '../../integration/http/peers/splunk-hec-peer.js';
import { WebhookPeer } from '../../integration/http/peers/webhook-peer.js';
import { waitFor } from '../../helpers/wait.js';

const TOKEN = 'e2e-hec-token';
const API_KEY = 'ZTJlOmtleQ==';

const isStart = (port: number) => (d: unknown) =>
  getField(d, F.eventAction) === 'listening_started' && getField(d, F.destinationPort) === port && getField(d, F.networkTransport) === 'tcp';

test('run ships a real listener event to Elasticsearch, Splunk HEC (indexer ack) and a webhook, unchanged', async (t) => {
  const es = await ElasticsearchPeer.start({ apiKey: API_KEY });
  t.after(() => es.close());
  const hec = await SplunkHecPeer.start({ token: TOKEN, ack: true });
  t.after(() => hec.close());
  const hook = await WebhookPeer.start();
  t.after(() => hook.close());
  const dir = mkdtempSync(join(tmpdir(), 'pw-http-e2e-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const file = join(dir, 'events.ndjson');

  const fast = 'batch: { max_wait: 100ms }\n    retry: { initial: 100ms, max: 1s }';
  const outputs = [
    'outputs:',
    `  - type: file\n    path: ${file}\n    ${fast}`,
    `  - type: http\n    name: es\n    format: elasticsearch\n    url: ${es.url}\n    api_key: ${API_KEY}\n    ${fast}`,
    `  - type: http\n    name: hec\n    format: splunk_hec\n    url: ${hec.url}\n    token: ${TOKEN}\n    indexer_ack: true\n    ${fast}`,
    `  - type: http\n    name: hook\n    format: ndjson\n    url: ${hook.url}\n    ${fast}`,
    '',
  ].join('\n');
  const agent = startAgent('detect: { enabled: false }\n', { outputsYaml: outputs });
  t.after(() => agent.stop());
  await waitFor('the first inventory in the file output', () => readNdjson(file).find((d) => d.event.action === 'listening_existing'), 30_000);

  const chain = await startListenerChain('webapp', ['tcp:127.0.0.1:0']);
  t.after(() => { chain.kill(); });
  const port = chain.opened[0]?.port ?? -1;

  const fromFile = await waitFor('listening_started in the file output', () => readNdjson(file).find(isStart(port)), 30_000);
  const fromEs = await waitFor('the document indexed in Elasticsearch', () => es.docs().find(isStart(port)), 30_000);
  const fromHec = await waitFor('the HEC envelope', () => hec.events.find((e) => isStart(port)(e.envelope.event)), 30_000);
  const fromHook = await waitFor('the webhook line', () => hook.received.find(isStart(port)), 30_000);

  assert.deepEqual(fromEs, fromFile, 'Elasticsearch got the ECS document unchanged');
  assert.deepEqual(fromHec.envelope.event, fromFile, 'HEC got the ECS document unchanged');
  assert.deepEqual(fromHook, fromFile, 'the webhook got the ECS document unchanged');

  const id = fromFile.event.id;
  assert.ok(es.indices.get('logs-portwarden.network-default')?.has(id), 'indexed in logs-portwarden.network-default with _id = event.id');
  assert.equal(fromHec.envelope.sourcetype, 'portwarden:network');
  assert.equal(fromHec.envelope.source, 'portwarden');
  assert.equal(fromHec.envelope.host, getField(fromFile, F.hostName));
  assert.equal(Math.floor(fromHec.envelope.time ?? 0), Math.floor(Date.parse(fromFile['@timestamp']) / 1000));
  await waitFor('the HEC ack for that request', () => (fromHec.ackId !== undefined && hec.acknowledged.has(fromHec.ackId) ? true : undefined), 30_000);

  assert.equal(await agent.stop(), 0, agent.stderr());
  assert.deepEqual(es.resentAfterAck, [], 'nothing Elasticsearch acknowledged was sent again');
});
