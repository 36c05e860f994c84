import type { AgentEventInput } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { DurabilityChange } from './spool/spool.js';

/** The spool's durability changes (degraded: writes fail; durable again) as portwarden.agent events. */
export function durabilityEvent(c: DurabilityChange, memoryMaxBytes: number): AgentEventInput {
  if (c.state === 'degraded') {
    return {
      action: Action.spoolDegraded, severity: 73,
      message: `portwarden spool degraded (${c.reason}): events go to the outputs from memory, not durable until the disk takes writes again`,
      fields: { portwarden: { spool: { state: 'degraded', reason: c.reason, error: c.error, memory_max_bytes: memoryMaxBytes } } },
    };
  }
  return {
    action: Action.spoolResumed, severity: c.dropped > 0 ? 73 : 47,
    message: `portwarden spool durable again after ${Math.round(c.degradedMs / 1000)} s: ${c.viaMemory} event(s) went through memory, ${c.dropped} dropped (memory full)`,
    fields: { portwarden: { spool: { state: 'durable', degraded_ms: c.degradedMs, via_memory: c.viaMemory, dropped: c.dropped } } },
  };
}
