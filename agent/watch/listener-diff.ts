import type { ProcessNode } from '../lineage/process-table.js';
import type { ListenerRecord } from '../sources/types.js';

/** A listener as the watch tracks it between ticks. */
export interface TrackedListener {
  key: string;
  record: ListenerRecord & { zone?: string };
  /** The owning process (the oldest holder) as it was when the listener was first seen. */
  owner: ProcessNode | undefined;
  firstSeen: string;
}

/**
 * Listener identity (DESIGN.md): network namespace, protocol, local address, local port and the
 * owning process entity; never the bare pid, so a restarted service is a stop plus a start.
 */
export function listenerKey(l: ListenerRecord, ownerEntityId: string): string {
  return `${l.netns}|${l.transport}|${l.address}|${l.port}|${ownerEntityId}`;
}

export interface ListenerDiff {
  started: TrackedListener[];
  stopped: TrackedListener[];
  current: Map<string, TrackedListener>;
}

/** Pure diff of the previous tracked set against this tick's listeners. */
export function diffListeners(
  previous: ReadonlyMap<string, TrackedListener>,
  now: readonly { record: ListenerRecord & { zone?: string }; owner: ProcessNode | undefined }[],
  at: string,
): ListenerDiff {
  const current = new Map<string, TrackedListener>();
  const started: TrackedListener[] = [];
  for (let i = 0; i < now.length; i++) {
    const entry = now[i];
    if (entry === undefined) continue;
    const { record, owner } = entry;
    const key = listenerKey(record, owner?.entityId ?? 'unknown');
    if (current.has(key)) continue;
    const prev = previous.get(key);
    if (prev !== undefined) {
      current.set(key, { ...prev, record });
    } else {
      const t: TrackedListener = { key, record, owner, firstSeen: at };
      current.set(key, t);
      started.push(t);
    }
  }
  const stopped = [...previous.values()].filter((t) => !current.has(t.key));
  return { started, stopped, current };
}
