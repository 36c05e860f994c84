import type { z } from 'zod';
import type { Logger } from '../agent/log/logger.js';
import type { EcsDocument } from '../agent/ecs/document.js';
import type { Lifecycle } from '../agent/util/lifecycle.js';

/** One event handed to a transport: the document and its JSON text, serialised once by the pipeline. */
export interface OutboundEvent {
  /** The ECS document; never mutate it. */
  readonly doc: EcsDocument;
  /** `JSON.stringify(doc)`, exactly what NDJSON-style outputs write. */
  readonly json: string;
  /** `json` as UTF-8, when the event already has it (read back from the spool); never modify it. */
  readonly bytes?: Buffer;
}

/**
 * What a transport says about one batch. The pipeline owns retries, backoff, circuit breaking,
 * dead-lettering and pausing; a transport only classifies.
 * - ok: every event is delivered (acknowledged by the peer where the protocol allows it).
 * - retryable: nothing (or not provably anything) was delivered; try the whole batch again later.
 * - permanent: the peer rejected every event for good; they go to the dead-letter file.
 * - partial: `retry` indices go around again, `rejected` go to the dead-letter file, the rest are done.
 * - paused: authentication, authorisation or configuration failure (401/403, unknown topic, TLS
 *   verification): stop this output, raise an agent event, keep everything queued.
 */
export type SendResult =
  | { kind: 'ok' }
  | { kind: 'retryable'; reason: string; retryAfterMs?: number }
  | { kind: 'permanent'; reason: string }
  | { kind: 'partial'; retry: number[]; rejected: { index: number; reason: string }[] }
  | { kind: 'paused'; reason: string };

/**
 * An output. `send` never sleeps and never retries on its own; it resolves (never rejects) with a
 * SendResult, and honours `signal` by abandoning the attempt and resolving `retryable`.
 * `shutdown()` closes connections; the pipeline has already stopped calling `send`.
 */
export interface Transport extends Lifecycle {
  readonly type: string;
  send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult>;
  /**
   * Transport-specific counters (syslog: truncated, resent, reconnects ...), shown in the
   * heartbeat and as `portwarden_output_transport{output,name}` on the metrics endpoint.
   */
  stats?(): object;
}

/** What a transport may use from the agent. */
export interface TransportContext {
  /** The output's name (config `name`, default `<type>` or `<type>-<index>`). */
  readonly name: string;
  readonly logger: Logger;
  readonly stateDir: string;
  /** The config file the output came from, for error messages. */
  readonly configFile: string;
  /** The agent's pid (syslog PROCID) and host name (syslog HOSTNAME). */
  readonly agentPid: number;
  readonly hostName: string;
}

/**
 * What validation and the docs know of an output type (`transports/<type>/index.ts` exports it as
 * `spec`). `configSchema` is a zod strictObject that includes `type: z.literal(<type>)` and the
 * transport's own keys (each with its default and a `.describe()` line); the pipeline adds the
 * common keys (`name`, `batch`, `retry`) itself. The constructor is the type's line in registry.ts.
 */
export interface TransportSpec<S extends z.ZodObject = z.ZodObject> {
  readonly type: string;
  readonly configSchema: S;
  /** One line for the docs. */
  readonly summary: string;
}
