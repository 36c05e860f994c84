import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { AgentEventFactory, AgentEventInput, EcsDocument } from '../../../../agent/ecs/document.js';
import { Dataset, ECS_VERSION, Kind, MODULE } from '../../../../agent/ecs/fields.js';
import { heartbeatSchema, metricsSchema, outputCommonShape, spoolSchema } from '../../../../agent/pipeline/config.js';
import type { PipelineOptions } from '../../../../agent/pipeline/index.js';
import type { PipelineStats } from '../../../../agent/pipeline/types.js';
import type { OutputConfig } from '../../../../agent/pipeline/output-config.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import type { Logger } from '../../../../agent/log/logger.js';
import type { Transport } from '../../../../transports/types.js';
import { z } from 'zod';

let seq = 0;

/** A minimal valid document; `n` lands in event.sequence so tests can follow each event. */
export function testDoc(n: number, kind: 'event' | 'alert' = 'event', pad = 0): EcsDocument {
  const now = new Date().toISOString();
  return {
    '@timestamp': now,
    ecs: { version: ECS_VERSION },
    event: { id: `t-${n}`, kind, action: 'listening_started', dataset: kind === 'alert' ? Dataset.alerts : Dataset.network, module: MODULE, created: now, sequence: n },
    ...(pad > 0 ? { message: 'x'.repeat(pad) } : {}),
  };
}

/** Stands in for the lead's agent/ecs builder until it lands. */
export const testAgentEvent: AgentEventFactory = (input: AgentEventInput) => {
  const now = new Date().toISOString();
  return {
    '@timestamp': now,
    message: input.message,
    ecs: { version: ECS_VERSION },
    event: { id: `agent-${++seq}`, kind: input.kind ?? Kind.event, action: input.action, dataset: Dataset.agent, module: MODULE, created: now, sequence: seq, ...(input.severity === undefined ? {} : { severity: input.severity }) },
    ...(input.fields ?? {}),
  };
};

const common = z.strictObject({ type: z.string(), ...outputCommonShape });

/** An output config with the pipeline's defaults, fast retries unless overridden. */
export function outputConfig(type: string, over: Record<string, unknown> = {}): OutputConfig {
  return common.parse({ type, batch: { max_wait: 5 }, retry: { initial: 1, max: 20 }, ...over });
}

export function pipelineOptions(stateDir: string, outputs: { name: string; transport: Transport; config?: OutputConfig }[], over: {
  spool?: Record<string, unknown>; metrics?: Record<string, unknown>; heartbeat?: Record<string, unknown>; logger?: Logger;
} & Partial<Omit<PipelineOptions, 'spool' | 'metrics' | 'heartbeat' | 'outputs' | 'logger'>> = {}): PipelineOptions {
  const { spool, metrics, heartbeat, logger, ...rest } = over;
  return {
    stateDir,
    spool: spoolSchema.parse(spool ?? {}),
    metrics: metricsSchema.parse(metrics ?? {}),
    heartbeat: heartbeatSchema.parse(heartbeat ?? { enabled: false }),
    outputs: outputs.map((o) => ({ name: o.name, transport: o.transport, config: o.config ?? outputConfig(o.transport.type) })),
    logger: logger ?? silentLogger,
    agentEvent: testAgentEvent,
    ...rest,
  };
}

const cleanups = new WeakMap<object, (() => Promise<unknown>)[]>();

/** A temp state dir, removed after the test once every `defer`red cleanup (run last-first) is done. */
export async function tempState(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-pipeline-'));
  const list: (() => Promise<unknown>)[] = [];
  cleanups.set(t, list);
  // The pipeline's timers are unref'd (the agent's collectors keep it alive); a test has no collectors.
  const alive = setInterval(() => undefined, 1000);
  t.after(async () => {
    clearInterval(alive);
    for (const fn of list.reverse()) await fn().catch(() => undefined);
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  return dir;
}

/** Runs `fn` after the test, before its temp dir goes (tempState must have been called first). */
export function defer(t: object, fn: () => Promise<unknown>): void {
  const list = cleanups.get(t);
  if (list === undefined) throw new Error('call tempState(t) first');
  list.push(fn);
}

/** received = sent + dead-lettered + dropped + queued, for every output. */
export function assertInvariant(s: PipelineStats): void {
  for (const o of s.outputs) {
    const dropped = Object.values(o.dropped).reduce((a, b) => a + b, 0);
    assert.equal(o.received, o.sent + o.deadLettered + dropped + o.queuedEvents,
      `invariant broken for ${o.name}: received ${o.received} != sent ${o.sent} + dead ${o.deadLettered} + dropped ${dropped} + queued ${o.queuedEvents}`);
    assert.ok(o.queuedEvents >= 0 && o.queuedBytes >= 0, `negative queue for ${o.name}`);
  }
}

/** event.sequence of each delivered document (agent events excluded). */
export function sequences(events: readonly { doc: EcsDocument }[]): number[] {
  return events.filter((e) => e.doc.event.dataset !== Dataset.agent).map((e) => e.doc.event.sequence);
}
