import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { PortwardenError } from '../../../../agent/util/errors.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { KafkaClientError } from '../../../../transports/kafka/client.js';
import type { KafkaFailure } from '../../../../transports/kafka/client.js';
import { fromKafkaJsError } from '../../../../transports/kafka/kafkajs-errors.js';
import { kafkaJsLogCreator } from '../../../../transports/kafka/kafkajs-client.js';
import { classifyFailure } from '../../../../transports/kafka/sender.js';

const { logLevel } = kafkajs;
// kafkajs's typings declare narrower constructors than its runtime classes take.
type Ctor = new (e: unknown, opts?: Record<string, unknown>) => Error;
const KafkaJSProtocolError = kafkajs.KafkaJSProtocolError as unknown as Ctor;
const KafkaJSNumberOfRetriesExceeded = kafkajs.KafkaJSNumberOfRetriesExceeded as unknown as Ctor;
const KafkaJSConnectionError = kafkajs.KafkaJSConnectionError as unknown as Ctor;
const KafkaJSRequestTimeoutError = kafkajs.KafkaJSRequestTimeoutError as unknown as Ctor;
const KafkaJSSASLAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as Ctor;
const KafkaJSNonRetriableError = kafkajs.KafkaJSNonRetriableError as unknown as Ctor;

const protocol = (type: string, retriable = true) => new KafkaJSProtocolError({ type, code: 0, retriable, message: `broker said ${type}` });
/** What kafkajs throws with `retry: { retries: 0 }`: the real error wrapped once. */
const gaveUp = (e: Error) => new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 0, retryTime: 300 });

test('kafkajs errors map to failure classes, through the retries-exceeded wrapper', () => {
  const tlsErr = Object.assign(new KafkaJSConnectionError('Connection error: self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  const cases: [unknown, KafkaFailure][] = [
    [gaveUp(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9', { code: 'ECONNREFUSED' })), 'unavailable'],
    [gaveUp(protocol('LEADER_NOT_AVAILABLE')), 'unavailable'],
    [gaveUp(protocol('NOT_LEADER_FOR_PARTITION')), 'not_leader'],
    [gaveUp(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')), 'timeout'],
    [gaveUp(protocol('REQUEST_TIMED_OUT')), 'timeout'],
    [protocol('MESSAGE_TOO_LARGE', false), 'too_large'],
    // kafkajs's retrier wraps a non-retriable error this way.
    [new KafkaJSNonRetriableError(protocol('RECORD_LIST_TOO_LARGE', false), { cause: protocol('RECORD_LIST_TOO_LARGE', false) }), 'too_large'],
    [new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed'), 'authentication'],
    [protocol('SASL_AUTHENTICATION_FAILED', false), 'authentication'],
    [protocol('TOPIC_AUTHORIZATION_FAILED', false), 'authorization'],
    [protocol('CLUSTER_AUTHORIZATION_FAILED', false), 'authorization'],
    [gaveUp(tlsErr), 'tls'],
    [new PortwardenError('TLS_CONFIG', 'tls.ca: cannot read /nope.pem'), 'config'],
    [new Error('something odd'), 'other'],
  ];
  for (const [err, want] of cases) assert.equal(fromKafkaJsError(err, true).failure, want, String(err));
});

test('an unknown topic pauses only when the brokers will not create it', () => {
  const err = gaveUp(protocol('UNKNOWN_TOPIC_OR_PARTITION'));
  assert.equal(fromKafkaJsError(err, false).failure, 'unknown_topic');
  assert.equal(fromKafkaJsError(err, true).failure, 'unavailable');
});

test('failure classes decide the pipeline verdict', () => {
  const kinds: Record<KafkaFailure, string> = {
    unavailable: 'retryable', not_leader: 'retryable', timeout: 'retryable', other: 'retryable',
    too_large: 'permanent',
    authentication: 'paused', authorization: 'paused', unknown_topic: 'paused', tls: 'paused', config: 'paused',
  };
  for (const [failure, kind] of Object.entries(kinds)) {
    const r = classifyFailure(new KafkaClientError(failure as KafkaFailure, 'X', 'msg'));
    assert.equal(r.kind, kind, failure);
    if (r.kind !== 'ok' && r.kind !== 'partial') assert.equal(r.reason, `${failure} (X): msg`);
  }
});

test("kafkajs's own logs reach our logger at warn and above, without the SASL password", () => {
  const logger = memoryLogger();
  const log = kafkaJsLogCreator(logger, ['hunter2-secret'])();
  const entry = (level: kafkajs.logLevel, message: string, extra: Record<string, unknown> = {}) =>
    ({ namespace: 'Connection', level, label: 'X', log: { timestamp: 'now', message, ...extra } });
  log(entry(logLevel.INFO, 'connected'));
  log(entry(logLevel.DEBUG, 'request'));
  log(entry(logLevel.WARN, 'auth with hunter2-secret failed', { broker: '127.0.0.1:9092', sasl: { password: 'hunter2-secret' } }));
  log(entry(logLevel.ERROR, 'Connection error', { error: 'boom hunter2-secret', request: { password: 'hunter2-secret' } }));
  assert.deepEqual(logger.records.map((r) => r.level), ['warn', 'error']);
  assert.equal(logger.records[0]?.meta?.broker, '127.0.0.1:9092');
  assert.ok(!JSON.stringify(logger.records).includes('hunter2-secret'), JSON.stringify(logger.records));
});
