/**
 * What the running agent tells an admin on the host, without a network port: `state_dir/status.json`
 * (written atomically every STATUS_INTERVAL_MS, after each reload and at stop; read by
 * `portwarden status`), and the same health figures in every heartbeat event (`portwarden.health`).
 */
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import type { PipelineStats } from '../pipeline/index.js';
import { writeStateFile } from '../pipeline/cursor-store.js';
import { errorMessage } from '../util/errors.js';
import type { DetectionCounts } from './detection-slot.js';
import type { OverlayVersions } from './overlay.js';
import type { ReloadResult } from './reload.js';

export const STATUS_FILE = 'status.json';
export const STATUS_INTERVAL_MS = 2000;

/** The status file's layout version; a reader refuses other versions. */
export const STATUS_FORMAT = 1;

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

export interface OutputStatus {
  name: string;
  type: string;
  /** running | backoff | open (circuit breaker) | paused (refused credentials/config) | stopped */
  state: string;
  queued_events: number;
  queued_bytes: number;
  oldest_queued_age_seconds: number;
  last_delivery: string | null;
  sent: number;
  failures: number;
  failures_by_reason: Record<string, number>;
  /** Dropped by policy (queue full, too large); `lost` (found unrecoverable in the spool) apart. */
  dropped: number;
  lost: number;
  dead_lettered: number;
}

/** The health summary; also the heartbeat's `portwarden.health` (every figure a scalar, for SIEM queries). */
export interface Health {
  status: 'ok' | 'degraded';
  problems: string[];
  uptime_seconds: number;
  queued_events: number;
  oldest_queued_age_seconds: number;
  outputs_failing: number;
  dropped_total: number;
  lost_total: number;
  rules: number;
  realtime: string | null;
  policy_version: string | null;
}

export interface AgentStatus {
  format: typeof STATUS_FORMAT;
  state: 'running' | 'stopped';
  pid: number;
  started: string;
  updated: string;
  version: string;
  host: string;
  config_file: string;
  collector: { platform: string; listener_path: string; privileged: boolean; realtime: string | null };
  detection: { enabled: boolean; rules: number; disabled_rules: number; allowlist_entries: number; sensitive_ports: number };
  /**
   * Filled by the central policy overlay (named `policy`); version null without one. `created` and
   * `applied_at` of the bundle applied, `last_check` of the last fetch, `last_error` while fetching
   * fails or the last bundle fetched was refused.
   */
  policy: { version: string | null; created?: string; applied_at?: string; last_check?: string; last_error?: string };
  overlays: OverlayVersions;
  health: Health;
  outputs: OutputStatus[];
  pipeline: { accepted: number; dropped: number; lost: number; spool_bytes: number; spool_max_bytes: number };
  last_reload: (ReloadResult & { at: string }) | null;
}

export function outputStatus(o: PipelineStats['outputs'][number]): OutputStatus {
  const lost = o.dropped.lost ?? 0;
  return {
    name: o.name, type: o.type, state: o.state,
    queued_events: o.queuedEvents, queued_bytes: o.queuedBytes, oldest_queued_age_seconds: Math.round(o.oldestQueuedAgeMs / 1000),
    last_delivery: o.lastDelivery ?? null, sent: o.sent, failures: sum(o.failed), failures_by_reason: { ...o.failed },
    dropped: sum(o.dropped) - lost, lost, dead_lettered: o.deadLettered,
  };
}

export interface HealthInputs {
  startedMs: number;
  stats: PipelineStats;
  detection: DetectionCounts;
  realtime: string | null;
  overlays: OverlayVersions;
  lastReload: ReloadResult | undefined;
}

/** Degraded: an output not delivering (backoff, breaker open, paused), events dropped or lost, a refused reload. */
export function healthOf(h: HealthInputs, now = Date.now()): Health {
  const outs = h.stats.outputs.map(outputStatus);
  const problems: string[] = [];
  for (const o of outs) {
    if (o.state !== 'running') problems.push(`output ${o.name} is ${o.state} (${o.failures} failed send(s), ${o.queued_events} queued)`);
    if (o.dropped > 0) problems.push(`output ${o.name} dropped ${o.dropped} event(s)`);
    if (o.lost > 0) problems.push(`output ${o.name} lost ${o.lost} event(s)`);
  }
  const unrepaired = h.stats.spool?.unrepaired ?? 0;
  const wait = h.stats.spool?.repairWait;
  if (unrepaired > 0) {
    problems.push(`spool: ${unrepaired} damaged segment(s) not repaired yet (disk full?); the damage is skipped, the repair retried`
      + (wait === undefined ? '' : `; the rewrite waits for ${wait.needBytes} bytes free, ${wait.freeBytes} free now`));
  }
  if (h.lastReload?.kind === 'refused') problems.push(`last reload refused: ${h.lastReload.file}: ${h.lastReload.keyPath}: ${h.lastReload.expected}`);
  return {
    status: problems.length === 0 ? 'ok' : 'degraded',
    problems,
    uptime_seconds: Math.max(0, Math.round((now - h.startedMs) / 1000)),
    queued_events: outs.reduce((n, o) => n + o.queued_events, 0),
    oldest_queued_age_seconds: Math.max(0, ...outs.map((o) => o.oldest_queued_age_seconds)),
    outputs_failing: outs.filter((o) => o.state !== 'running').length,
    dropped_total: outs.reduce((n, o) => n + o.dropped, 0) + sum(h.stats.dropped),
    lost_total: Math.max(h.stats.lost, ...outs.map((o) => o.lost)),
    rules: h.detection.rules,
    realtime: h.realtime,
    policy_version: h.overlays.policy ?? null,
  };
}

/** Writes status.json now and then; `publish` writes at once (after a reload, at stop). */
export class StatusPublisher {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly stateDir: string, private readonly snapshot: () => AgentStatus, private readonly logger: Logger) {}

  get file(): string { return join(this.stateDir, STATUS_FILE); }

  start(): Promise<void> {
    this.timer ??= setInterval(() => { void this.publish(); }, STATUS_INTERVAL_MS);
    this.timer.unref();
    return this.publish();
  }

  /** One write at a time; a failure is logged, never thrown (status is advisory). */
  publish(patch: Partial<AgentStatus> = {}): Promise<void> {
    this.writing = this.writing.then(async () => {
      try {
        await writeStateFile(this.file, `${JSON.stringify({ ...this.snapshot(), ...patch }, null, 2)}\n`, false);
      } catch (err) {
        this.logger.debug('status file write failed', { file: this.file, error: errorMessage(err) });
      }
    });
    return this.writing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.publish({ state: 'stopped' });
  }
}
