import { join } from 'node:path';
import type { Server } from 'node:http';
import type { z } from 'zod';
import type { Logger } from '../log/logger.js';
import type { AgentEventFactory, AgentEventInput, EcsDocument } from '../ecs/document.js';
import { Action, Kind } from '../ecs/fields.js';
import { PortwardenError, errorMessage } from '../util/errors.js';
import { removeStaleTemps } from '../util/safe-fs.js';
import { WARN_INTERVAL_MS } from '../util/throttle.js';
import type { OutputConfig } from './output-config.js';
import type { Transport } from '../../transports/types.js';
import type { heartbeatSchema, metricsSchema, spoolSchema } from './config.js';
import { CursorStore } from './cursor-store.js';
import { DeadLetter } from './dead-letter.js';
import { Dispatcher } from './dispatcher.js';
import type { FaultHook } from './fault.js';
import { Lane } from './lane.js';
import { startMetricsServer } from './metrics.js';
import { recover } from './recover.js';
import type { RecoveryReport } from './recover.js';
import { Spool } from './spool/spool.js';
import { durabilityEvent } from './durability-event.js';
import { bounded } from '../util/bounded.js';
import { LaneReader } from './spool/reader.js';
import { Telemetry } from './telemetry.js';
import { fitDocument } from './fit.js';
import type { Pipeline, PipelineStats } from './types.js';

export interface PipelineOptions {
  /** The spool lives in <stateDir>/spool, dead letters in <stateDir>/dead-letter/<output>.ndjson. */
  stateDir: string;
  spool: z.output<typeof spoolSchema>;
  metrics: z.output<typeof metricsSchema>;
  heartbeat: z.output<typeof heartbeatSchema>;
  outputs: { name: string; config: OutputConfig; transport: Transport }[];
  logger: Logger;
  /** Builds portwarden.agent documents (events_lost, output_paused, heartbeat ...). */
  agentEvent: AgentEventFactory;
  /** Injectable clock (event ages, dead-letter timestamps). */
  now?: () => number;
  /** Longest one send may take before it is aborted and retried (default 30 s). */
  sendTimeoutMs?: number;
  /** Time shutdown gives in-flight sends (default 3 s, so the whole agent stops within 5 s). */
  shutdownTimeoutMs?: number;
  /** Period of the aggregated warning line (default 30 s). */
  warnIntervalMs?: number;
  /** Least time between two cursor writes of one output (default spool.fsync_interval; 0: every batch). */
  cursorIntervalMs?: number;
  /** Extra fields of the heartbeat event (the agent's health summary), merged under `portwarden`. */
  health?: () => Record<string, unknown>;
  /** Backoff jitter source (tests). */
  random?: () => number;
  /** Test-only crash points; see fault.ts. */
  fault?: FaultHook;
}

type Phase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** See Pipeline in types.ts: accept() appends to the spool; one dispatcher per output delivers. */
export class DeliveryPipeline implements Pipeline {
  private phase: Phase = 'new';
  private currentPhase(): Phase { return this.phase; }
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly spool: Spool;
  private readonly lanes: Lane[];
  private readonly outputs: PipelineOptions['outputs'];
  private readonly dispatchers: Dispatcher[];
  private readonly telemetry: Telemetry;
  private metricsServer: Server | undefined;
  private received = 0;
  private lost = 0;
  /** What start-up recovery found (for tests and the `status` command). */
  recovery: RecoveryReport | undefined;
  /** The metrics endpoint's bound port, once listening. */
  metricsPort: number | undefined;

  constructor(private readonly o: PipelineOptions) {
    this.now = o.now ?? Date.now;
    this.outputs = [...o.outputs];
    const dir = join(o.stateDir, 'spool');
    this.spool = new Spool(dir, o.spool, {
      now: this.now, logger: o.logger, fault: o.fault, onWritten: () => { for (const l of this.lanes) l.notify(); },
      onDurability: (c) => { this.emit(durabilityEvent(c, o.spool.memory_max_bytes), true); },
    });
    this.lanes = o.outputs.map((out) => this.laneFor(out.name, out.config.type));
    this.spool.lanes = this.lanes;
    this.dispatchers = o.outputs.map((_, i) => this.dispatcherFor(i));
    this.telemetry = new Telemetry({
      heartbeat: o.heartbeat, stats: () => this.stats(), emit: (input) => { this.emit(input); }, logger: o.logger,
      ...(o.health === undefined ? {} : { health: o.health }),
      lastFailure: (name) => this.dispatchers[this.lanes.findIndex((l) => l.name === name)]?.lastFailure ?? '',
      warnIntervalMs: o.warnIntervalMs ?? WARN_INTERVAL_MS,
    });
  }

  private laneFor(name: string, type: string): Lane {
    return new Lane(name, type, new CursorStore(join(this.o.stateDir, 'spool', 'cursors'), name, this.o.spool.fsync !== 'never', () => {
      void this.collect();
    }, this.o.fault));
  }

  /** Deletes the segments every output is past; a failure is logged (the next cursor move tries again). */
  private collect(): Promise<void> {
    return this.spool.collect().catch((err: unknown) => { this.o.logger.warn('spool segment deletion failed', { error: errorMessage(err) }); });
  }

  private dispatcherFor(i: number): Dispatcher {
    const lane = this.lanes[i] as Lane;
    const out = this.outputs[i] as PipelineOptions['outputs'][number];
    return new Dispatcher({
      lane, transport: out.transport, config: out.config, logger: this.o.logger, now: this.now,
      reader: new LaneReader(() => this.spool.segments, lane, this.o.logger, (from, name, max, bytes) => this.spool.memoryFrames(from, name, max, bytes)),
      deadLetter: new DeadLetter(join(this.o.stateDir, 'dead-letter'), out.name, this.now, this.o.spool.fsync !== 'never'),
      emit: (input) => { this.emit(input); },
      sendTimeoutMs: this.o.sendTimeoutMs ?? 30_000,
      cursorIntervalMs: this.o.cursorIntervalMs ?? this.o.spool.fsync_interval,
      ...(this.o.random === undefined ? {} : { random: this.o.random }),
    });
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.phase !== 'new') return;
    this.phase = 'starting';
    // Temporary files a crash left (atomic writes with random names); nothing writes yet.
    const dir = join(this.o.stateDir, 'spool');
    for (const d of [dir, join(dir, 'cursors')]) removeStaleTemps(d);
    const rep = await recover(this.spool, this.lanes, this.o.logger, this.now);
    this.recovery = rep;
    this.lost = rep.lost;
    // Delivered segments go first, the open one too: an agent can start on a full disk.
    await this.spool.collect(true);
    for (const out of this.outputs) {
      await out.transport.start().catch((err: unknown) => {
        this.o.logger.error('output failed to start; its events stay queued and it is retried', { output: out.name, error: errorMessage(err) });
      });
    }
    if (this.currentPhase() !== 'starting') return;
    this.spool.start();
    this.phase = 'running';
    const unrepaired = rep.unrepairedSegments;
    if (rep.lost > 0 || rep.repairedSegments.length > 0 || unrepaired.length > 0 || rep.cursorsReset.length > 0 || rep.spoolMovedTo !== undefined) {
      this.o.logger.error('spool recovery found damage', { lost: rep.lost, repaired: rep.repairedSegments, unrepaired, cursors_reset: rep.cursorsReset });
      this.emit({
        action: Action.eventsLost, severity: rep.lost > 0 ? 73 : 47,
        message: `portwarden spool recovery: ${rep.lost} event(s) lost, ${rep.repairedSegments.length} segment(s) repaired, ${rep.cursorsReset.length} cursor(s) reset`
          + (unrepaired.length > 0 ? `, ${unrepaired.length} damaged segment(s) not repaired yet (the disk refused; damage skipped, repair retried)` : ''),
        fields: { portwarden: { pipeline: { lost: rep.lost, lost_by_output: rep.lostByOutput, repaired_segments: rep.repairedSegments, unrepaired_segments: unrepaired, dropped_bytes: rep.droppedBytes, cursors_reset: rep.cursorsReset } } },
      });
    }
    for (const d of this.dispatchers) d.start();
    this.telemetry.start();
    if (this.o.metrics.listen !== undefined) {
      // Telemetry never stops delivery: a busy port is an error in the log, not a dead agent.
      try {
        const m = await startMetricsServer(this.o.metrics.listen, () => this.stats(), this.o.logger);
        this.metricsServer = m.server;
        this.metricsPort = m.port;
      } catch (err) {
        this.o.logger.error('metrics endpoint could not listen; continuing without it', { address: this.o.metrics.listen, error: errorMessage(err) });
      }
    }
  }

  accept(doc: EcsDocument): Promise<void> {
    return this.append(doc, doc.event.kind === Kind.alert);
  }

  /** `keep`: never dropped by a drop policy (alerts, and the agent's own reports about loss). */
  private append(doc: EcsDocument, keep: boolean, always = false): Promise<void> {
    try {
      if (this.phase !== 'running') throw new PortwardenError('PIPELINE_STOPPED', `the pipeline is not running (${this.phase})`);
      const fit = fitDocument(doc, this.spool.maxEventBytes);
      if (fit.kind === 'too_large') {
        // Counted and reported in-band (events_dropped) like any drop; never an error on the event path.
        this.received++;
        this.spool.refuse('too_large');
        return Promise.resolve();
      }
      const p = this.spool.append(fit.json, keep, always, fit.bytes);
      this.received++;
      return p;
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Raises a portwarden.agent event through the pipeline itself. */
  private emit(input: AgentEventInput, always = false): void {
    if (this.phase !== 'running') return;
    let doc: EcsDocument;
    try {
      doc = this.o.agentEvent(input);
    } catch (err) {
      this.o.logger.warn('could not build an agent event', { action: input.action, error: errorMessage(err) });
      return;
    }
    this.append(doc, true, always).catch((err: unknown) => { this.o.logger.warn('could not queue an agent event', { action: input.action, error: errorMessage(err) }); });
  }

  stats(): PipelineStats {
    const now = this.now();
    const wait = this.spool.segments.find((s) => s.unrepaired && s.waitsForSpace)?.waitsForSpace;
    return {
      received: this.received,
      dropped: { ...this.spool.refused },
      lost: this.lost,
      outputs: this.lanes.map((l, i) => {
        const extra = Object.entries(this.outputs[i]?.transport.stats?.() ?? {})
          .filter((e): e is [string, number | boolean] => typeof e[1] === 'number' || typeof e[1] === 'boolean');
        return extra.length === 0 ? l.stats(now) : { ...l.stats(now), transport: Object.fromEntries(extra) };
      }),
      spool: {
        bytes: this.spool.usedBytes, maxBytes: this.spool.maxBytes, segments: this.spool.segments.length,
        unrepaired: this.spool.segments.filter((s) => s.unrepaired).length,
        ...(wait === undefined ? {} : { repairWait: { ...wait } }),
        repairs: { ...this.spool.repairs.counts },
      },
    };
  }

  /**
   * Restarts one running output with new settings (a reload): its dispatcher first drains what is
   * queued, for up to `drainMs`; a batch still unacknowledged then is abandoned, and the new
   * transport continues from the same cursor, so nothing is skipped, and nothing is sent twice
   * unless the old transport could not deliver in time. The lane (counters, cursor) is kept.
   */
  async replaceOutput(name: string, config: OutputConfig, transport: Transport, drainMs = 5000): Promise<void> {
    const i = this.lanes.findIndex((l) => l.name === name);
    const old = this.dispatchers[i];
    const lane = this.lanes[i];
    const prev = this.outputs[i];
    if (old === undefined || lane === undefined || prev === undefined) throw new Error(`no output named ${name}`);
    if (this.phase !== 'running') throw new PortwardenError('PIPELINE_STOPPED', `the pipeline is not running (${this.phase})`);
    await old.stop(Date.now() + drainMs, this.spool.nextSeq);
    lane.inFlight = false;
    lane.oldestTime = undefined;
    lane.readPos = lane.ackPos;
    lane.type = config.type;
    await lane.cursor.save(lane.ackPos).catch((err: unknown) => {
      this.o.logger.warn('cursor write failed (events may be sent again)', { output: name, error: errorMessage(err) });
    });
    await bounded(prev.transport.shutdown(), drainMs).catch((err: unknown) => {
      this.o.logger.warn('output shutdown failed', { output: name, error: errorMessage(err) });
    });
    this.outputs[i] = { name, config, transport };
    // The agent stopped during the drain: the new transport is never started (nothing would stop it).
    if (this.currentPhase() !== 'running') return;
    await transport.start().catch((err: unknown) => {
      this.o.logger.error('output failed to start; its events stay queued and it is retried', { output: name, error: errorMessage(err) });
    });
    lane.state = 'running';
    const next = this.dispatcherFor(i);
    this.dispatchers[i] = next;
    if (this.currentPhase() === 'running') next.start();
  }

  /**
   * Adds an output to the running pipeline (a reload): like an output added before a restart, it
   * gets the events accepted from now on (its cursor starts at the spool's end).
   */
  async addOutput(name: string, config: OutputConfig, transport: Transport): Promise<void> {
    if (this.phase !== 'running') throw new PortwardenError('PIPELINE_STOPPED', `the pipeline is not running (${this.phase})`);
    if (this.lanes.some((l) => l.name === name)) throw new Error(`output ${name} exists`);
    const lane = this.laneFor(name, config.type);
    const last = this.spool.segments.at(-1);
    lane.readPos = lane.ackPos = { seq: this.spool.nextSeq, segment: last?.id ?? this.spool.nextSeq, offset: 0 };
    // The spool counts each new frame for every lane in this array from the next append on.
    this.lanes.push(lane);
    this.outputs.push({ name, config, transport });
    await lane.cursor.save(lane.ackPos);
    if (this.currentPhase() !== 'running') return;
    await transport.start().catch((err: unknown) => {
      this.o.logger.error('output failed to start; its events stay queued and it is retried', { output: name, error: errorMessage(err) });
    });
    const d = this.dispatcherFor(this.lanes.length - 1);
    this.dispatchers.push(d);
    if (this.currentPhase() === 'running') d.start();
  }

  /**
   * Removes an output (a reload): it drains what was queued for it, for up to `drainMs`, then no
   * longer holds back segment deletion. What it did not get stays undelivered to it.
   */
  async removeOutput(name: string, drainMs = 5000): Promise<void> {
    const i = this.lanes.findIndex((l) => l.name === name);
    const d = this.dispatchers[i];
    const out = this.outputs[i];
    const lane = this.lanes[i];
    if (d === undefined || out === undefined || lane === undefined) throw new Error(`no output named ${name}`);
    await d.stop(Date.now() + drainMs, this.spool.nextSeq);
    await lane.cursor.save(lane.ackPos).catch(() => undefined);
    const at = this.lanes.indexOf(lane);
    this.lanes.splice(at, 1);
    this.dispatchers.splice(at, 1);
    this.outputs.splice(at, 1);
    await bounded(out.transport.shutdown(), drainMs).catch((err: unknown) => {
      this.o.logger.warn('output shutdown failed', { output: name, error: errorMessage(err) });
    });
    await this.collect();
  }

  /** Applies a new heartbeat schedule (a reload). */
  setHeartbeat(heartbeat: PipelineOptions['heartbeat']): Promise<void> {
    return this.telemetry.reschedule(heartbeat);
  }

  /** Emits a heartbeat now (the schedule does it otherwise). */
  heartbeat(): void {
    this.telemetry.heartbeat();
  }

  /** Makes everything accepted so far durable (fsync) and persists every cursor. */
  async flush(): Promise<void> {
    if (this.phase !== 'running') return;
    await this.spool.tick();
    await Promise.all(this.lanes.map((l) => l.cursor.save(l.ackPos)));
  }

  /**
   * Cuts a shutdown short (a second stop signal): the outputs' drain ends now and nothing waits
   * for a transport any more. Writes to the spool in progress are still finished and fsynced.
   */
  hurry(): void {
    this.hurryNow();
    for (const d of this.dispatchers) d.hurry();
  }

  private hurryNow: () => void = () => undefined;
  private readonly hurried = new Promise<void>((resolve) => { this.hurryNow = resolve; });

  /**
   * The agent is stopping and what its producers still hold waits for room the outputs do not make
   * (a full spool, outputs slow or down): see Spool.release(). Said once in the log.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.spool.release()) this.o.logger.warn('stopping: the spool is full and the outputs made no room in time; what the agent still holds may take the spool a quarter over its cap (at most 16 MiB), the rest is dropped (counted: shutdown)');
  }

  private released = false;

  /**
   * Drains the outputs for up to shutdownTimeoutMs, and ends no later than `until` (an absolute
   * time: the agent's own shutdown budget), 500 ms of it kept for the transports' shutdown.
   */
  shutdown(until?: number): Promise<void> {
    this.stopping ??= this.doShutdown(until);
    return this.stopping;
  }

  private async doShutdown(until = Number.POSITIVE_INFINITY): Promise<void> {
    const deadline = Math.min(Date.now() + (this.o.shutdownTimeoutMs ?? 3000), until - 500);
    if (this.phase === 'starting') await this.starting?.catch(() => undefined);
    // Appends still waiting for room (a stop that came here within its handover share) are taken
    // or counted now, and the drop summary below gets its room.
    this.release();
    const wasStarted = this.phase === 'running';
    // The last window's drops go out in-band now (events_dropped), not with the next run or never.
    if (wasStarted) this.telemetry.summarize();
    this.phase = 'stopping';
    await this.telemetry.stop();
    const dropped = this.spool.refused.shutdown ?? 0;
    if (dropped > 0) this.o.logger.error(`stopping: ${dropped} event(s) the agent still held were dropped: the spool was full and the outputs made no room`);
    if (wasStarted) {
      await this.spool.close();
      await Promise.all(this.dispatchers.map((d) => d.stop(deadline)));
      const lost = this.spool.abandonMemory();
      if (Object.keys(lost).length > 0) {
        this.o.logger.error('spool unwritable at shutdown: events held in memory were not delivered', { lost_by_output: lost });
      }
      for (const l of this.lanes) l.state = 'stopped';
      await Promise.all(this.lanes.map((l) => l.cursor.save(l.ackPos).catch((err: unknown) => {
        this.o.logger.warn('final cursor write failed (events may be sent again)', { output: l.name, error: errorMessage(err) });
      })));
    }
    await Promise.race([this.hurried, Promise.all(this.outputs.map((out) => bounded(out.transport.shutdown(), Math.max(250, Math.min(until, deadline + 500) - Date.now())).catch((err: unknown) => {
      this.o.logger.warn('output shutdown failed', { output: out.name, error: errorMessage(err) });
    })))]);
    await new Promise<void>((resolve) => { if (this.metricsServer === undefined) resolve(); else this.metricsServer.close(() => { resolve(); }); });
    this.phase = 'stopped';
  }
}
