import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpConfigSchema } from '../../../../transports/http/config.js';
import { authorizationHeader, gzipEnabled } from '../../../../transports/http/request.js';

const parse = (raw: Record<string, unknown>) => httpConfigSchema.safeParse({ type: 'http', ...raw });
const problems = (raw: Record<string, unknown>) => (parse(raw).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

test('defaults: ndjson, 5 MB bodies, 30 s timeout, namespace default, no ack', () => {
  const c = httpConfigSchema.parse({ type: 'http', url: 'http://127.0.0.1:8080/in' });
  assert.equal(c.format, 'ndjson');
  assert.equal(c.max_body_bytes, 5 * 1024 * 1024);
  assert.equal(c.timeout, 30_000);
  assert.equal(c.namespace, 'default');
  assert.equal(c.indexer_ack, false);
  assert.equal(gzipEnabled(c), false);
  assert.equal(gzipEnabled(httpConfigSchema.parse({ type: 'http', url: 'http://es:9200', format: 'elasticsearch' })), true);
  assert.equal(httpConfigSchema.parse({ type: 'http', url: 'http://x', max_body_bytes: '1MiB', timeout: '5s' }).max_body_bytes, 1024 * 1024);
});

test('cross-field rules name the key', () => {
  assert.deepEqual(problems({ url: 'http://h:8088', format: 'splunk_hec' }), ['token: format splunk_hec needs token (the HEC token)']);
  assert.deepEqual(problems({ url: 'http://h', format: 'ndjson', api_key: 'k' }), ['api_key: api_key is for format elasticsearch']);
  assert.deepEqual(problems({ url: 'http://h', format: 'elasticsearch', api_key: 'k', username: 'u', password: 'p' }),
    ['api_key: choose one of api_key, username/password and token']);
  assert.deepEqual(problems({ url: 'http://h', password: 'p' }), ['password: password needs username']);
  assert.deepEqual(problems({ url: 'http://h', format: 'elasticsearch', indexer_ack: true }), ['indexer_ack: indexer_ack is for format splunk_hec']);
  assert.deepEqual(problems({ url: 'http://h', tls: { ca: 'ca.pem' } }), ['tls: tls needs an https:// url']);
  assert.deepEqual(problems({ url: 'http://h', headers: { Authorization: 'x' } }), ['headers: header Authorization is set by the output itself']);
  assert.deepEqual(problems({ url: 'http://h', namespace: 'my-ns' }), ['namespace: expected lowercase letters, digits and _ (no -)']);
  assert.equal(problems({ url: 'ftp://h' }).length, 1);
  assert.equal(problems({ url: 'http://h', colour: 'red' }).length, 1, 'unknown keys are errors');
});

test('authorization header per credential kind', () => {
  const c = (raw: Record<string, unknown>) => httpConfigSchema.parse({ type: 'http', url: 'http://h', ...raw });
  assert.equal(authorizationHeader(c({ format: 'splunk_hec', token: 't' })), 'Splunk t');
  assert.equal(authorizationHeader(c({ format: 'elasticsearch', api_key: 'k' })), 'ApiKey k');
  assert.equal(authorizationHeader(c({ format: 'elasticsearch', username: 'elastic', password: 'pw' })), `Basic ${Buffer.from('elastic:pw').toString('base64')}`);
  assert.equal(authorizationHeader(c({ token: 't' })), 'Bearer t');
  assert.equal(authorizationHeader(c({})), undefined);
});
