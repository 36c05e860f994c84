import { tlsVerifyFailure } from '../shared/tls.js';
import { PortwardenError, errorMessage } from '../../agent/util/errors.js';
import { KafkaClientError } from './client.js';
import type { KafkaFailure } from './client.js';

/** Kafka protocol error types (as kafkajs names them) -> what they mean for a producer. */
const PROTOCOL: Readonly<Record<string, KafkaFailure>> = {
  LEADER_NOT_AVAILABLE: 'unavailable',
  BROKER_NOT_AVAILABLE: 'unavailable',
  REPLICA_NOT_AVAILABLE: 'unavailable',
  NETWORK_EXCEPTION: 'unavailable',
  NOT_ENOUGH_REPLICAS: 'unavailable',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'unavailable',
  KAFKA_STORAGE_ERROR: 'unavailable',
  NOT_CONTROLLER: 'unavailable',
  NOT_LEADER_FOR_PARTITION: 'not_leader',
  FENCED_LEADER_EPOCH: 'not_leader',
  UNKNOWN_LEADER_EPOCH: 'not_leader',
  REQUEST_TIMED_OUT: 'timeout',
  MESSAGE_TOO_LARGE: 'too_large',
  RECORD_LIST_TOO_LARGE: 'too_large',
  SASL_AUTHENTICATION_FAILED: 'authentication',
  UNSUPPORTED_SASL_MECHANISM: 'authentication',
  ILLEGAL_SASL_STATE: 'authentication',
  TOPIC_AUTHORIZATION_FAILED: 'authorization',
  CLUSTER_AUTHORIZATION_FAILED: 'authorization',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'authorization',
  UNKNOWN_TOPIC_OR_PARTITION: 'unknown_topic',
  INVALID_TOPIC_EXCEPTION: 'config',
  INVALID_REQUIRED_ACKS: 'config',
  UNSUPPORTED_COMPRESSION_TYPE: 'config',
};

/** kafkajs error class names that are not protocol errors. */
const BY_NAME: Readonly<Record<string, KafkaFailure>> = {
  KafkaJSConnectionError: 'unavailable',
  KafkaJSConnectionClosedError: 'unavailable',
  KafkaJSBrokerNotFound: 'unavailable',
  KafkaJSNoBrokerAvailableError: 'unavailable',
  KafkaJSMetadataNotLoaded: 'not_leader',
  KafkaJSTopicMetadataNotLoaded: 'not_leader',
  KafkaJSStaleTopicMetadataAssignment: 'not_leader',
  KafkaJSRequestTimeoutError: 'timeout',
  KafkaJSTimeout: 'timeout',
  KafkaJSLockTimeout: 'timeout',
  KafkaJSSASLAuthenticationError: 'authentication',
  // e.g. SASL configured against a listener without it: the broker lacks the API we asked for.
  KafkaJSServerDoesNotSupportApiKey: 'config',
};

/** kafkajs wraps the real error when it gives up (retries: 0 means "gave up at once"). */
const WRAPPERS = new Set(['KafkaJSNumberOfRetriesExceeded', 'KafkaJSNonRetriableError']);

function innermost(err: unknown): unknown {
  let cur = err;
  for (let depth = 0; depth < 5; depth++) {
    if (!(cur instanceof Error) || !WRAPPERS.has(cur.name) || cur.cause === undefined) return cur;
    cur = cur.cause;
  }
  return cur;
}

/**
 * Maps whatever kafkajs threw to a KafkaClientError. `autoCreate`: whether the producer lets
 * brokers create topics; an unknown topic is then only "not there yet" (transient).
 */
export function fromKafkaJsError(err: unknown, autoCreate: boolean): KafkaClientError {
  if (err instanceof KafkaClientError) return err;
  const e = innermost(err);
  const message = errorMessage(e);
  if (e instanceof PortwardenError && e.code === 'TLS_CONFIG') return new KafkaClientError('config', e.code, message, err);
  if (!(e instanceof Error)) return new KafkaClientError('other', 'unknown', message, err);
  const tls = tlsVerifyFailure(e);
  if (tls !== undefined) return new KafkaClientError('tls', (e as NodeJS.ErrnoException).code ?? 'TLS', tls, err);
  const type = (e as { type?: unknown }).type;
  if (e.name === 'KafkaJSProtocolError' && typeof type === 'string') {
    let failure = PROTOCOL[type] ?? 'other';
    if (failure === 'unknown_topic' && autoCreate) failure = 'unavailable';
    return new KafkaClientError(failure, type, message, err);
  }
  if (e.name === 'KafkaJSAggregateError') {
    const first = (e as { errors?: unknown[] }).errors?.[0];
    if (first !== undefined) return fromKafkaJsError(first, autoCreate);
  }
  if (e.name === 'KafkaJSConnectionError' && /SASL|authentication/i.test(message)) {
    return new KafkaClientError('authentication', e.name, message, err);
  }
  const byName = BY_NAME[e.name];
  if (byName !== undefined) return new KafkaClientError(byName, e.name, message, err);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND') {
    return new KafkaClientError('unavailable', code, message, err);
  }
  return new KafkaClientError('other', e.name, message, err);
}
