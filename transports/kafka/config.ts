import { z } from 'zod';
import { byteSize, duration, hostPort, tlsSchema } from '../../config/types.js';
import { PLACEHOLDER } from './topic.js';

/** Kafka's legal topic characters; placeholders are checked separately. */
const TOPIC_CHARS = /^[A-Za-z0-9._-]*$/;

const topicTemplate = z.string().min(1).max(249)
  .refine((t) => TOPIC_CHARS.test(t.replace(PLACEHOLDER, '')), {
    error: 'expected a topic name of letters, digits, ".", "_", "-" and {field.path} placeholders',
  });

const acks = z.union([z.literal('all'), z.literal(-1), z.literal(0), z.literal(1)])
  .transform((a): -1 | 0 | 1 => (a === 'all' ? -1 : a));

export const saslSchema = z.strictObject({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).default('scram-sha-512')
    .describe('SASL mechanism; plain sends the password in clear unless tls is set'),
  username: z.string().min(1).describe('SASL user name'),
  password: z.string().min(1).describe('SASL password (never logged)'),
});

export const kafkaConfigSchema = z.strictObject({
  type: z.literal('kafka'),
  brokers: z.array(hostPort()).min(1).describe('bootstrap brokers as host:port; the rest are discovered'),
  topic: topicTemplate.default('{event.dataset}')
    .describe('topic name; {field.path} placeholders are filled from each event, e.g. siem-{event.dataset}'),
  key: z.string().default('host.id')
    .describe('ECS field whose value is the record key (per-host order); empty for no key'),
  client_id: z.string().min(1).default('portwarden').describe('client id the brokers see in their logs and quotas'),
  compression: z.enum(['none', 'gzip']).default('gzip').describe('record batch compression'),
  acks: acks.default(-1).describe('all (-1): every in-sync replica; 1: the leader only; 0: no acknowledgement'),
  timeout: duration({ max: 3_600_000 }).default(10_000).describe('longest one send (connect, metadata, produce) may take before it is retried'),
  max_message_bytes: byteSize({ max: 1024 ** 3 }).default(1_000_000)
    .describe('largest record (key + value + headers); larger events go to the dead-letter file'),
  allow_auto_topic_creation: z.boolean().default(true)
    .describe('let the brokers create missing topics; when false an unknown topic pauses the output'),
  sasl: saslSchema.optional().describe('SASL authentication; none when absent'),
  tls: tlsSchema.optional().describe('TLS to the brokers; plaintext when absent'),
});

export type KafkaConfig = z.output<typeof kafkaConfigSchema>;
