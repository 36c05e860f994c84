import type { EcsDocument } from '../ecs/document.js';
import type { Lifecycle } from '../util/lifecycle.js';

/**
 * Where collectors and detectors put events. `accept` resolves once the event is durably accepted
 * (appended to the spool under the configured fsync policy); from then on the pipeline owes it to
 * every output. It may wait (back-pressure) when the spool is full and `when_full: block`.
 */
export interface EventSink {
  accept(doc: EcsDocument): Promise<void>;
}

/** Per-output counters, as the heartbeat and the metrics endpoint show them. */
export interface OutputStats {
  name: string;
  type: string;
  state: 'running' | 'backoff' | 'open' | 'paused' | 'stopped';
  /** Events this output owes since start (including the backlog found in the spool at start). */
  received: number;
  sent: number;
  failed: Record<string, number>;
  dropped: Record<string, number>;
  deadLettered: number;
  retries: number;
  queuedEvents: number;
  queuedBytes: number;
  oldestQueuedAgeMs: number;
  /** When the output last acknowledged a send (ISO 8601); absent before the first. */
  lastDelivery?: string;
  /** The transport's own counters, where it keeps any (Transport.stats). */
  transport?: Record<string, number | boolean>;
}

export interface PipelineStats {
  received: number;
  dropped: Record<string, number>;
  lost: number;
  outputs: OutputStats[];
  /** Spool usage on disk. */
  spool?: {
    bytes: number; maxBytes: number; segments: number; unrepaired?: number;
    /** A damaged segment's rewrite put off for want of free space: the bytes it waits for, those free at the last check. */
    repairWait?: { needBytes: number; freeBytes: number };
    /** Repairs tried on disk after start-up, and rewrites put off for want of space (see SegmentRepairs). */
    repairs?: { attempted: number; putOff: number };
  };
}

/** The delivery pipeline: spool, one dispatcher per output, telemetry. */
export interface Pipeline extends EventSink, Lifecycle {
  stats(): PipelineStats;
  /** Stopping, no room coming: appends waiting on a full spool stop waiting (DeliveryPipeline.release). */
  release(): void;
}
