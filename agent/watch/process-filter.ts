import type { ProcessNode } from '../lineage/process-table.js';

/** events.process_filter: which process events are shipped (detection sees them all). */
export interface ProcessFilter {
  users: string[];
  exclude_executables: string[];
  parents: string[];
}

/** Whether `node`'s events pass `f` (no filter: all do). */
export function passesFilter(f: ProcessFilter | undefined, node: ProcessNode): boolean {
  if (f === undefined) return true;
  const r = node.record;
  if (f.users.length > 0 && (r.userName === undefined || !f.users.includes(r.userName))) return false;
  if (r.executable !== undefined && f.exclude_executables.some((p) => r.executable?.startsWith(p))) return false;
  if (f.parents.length > 0 && (node.parent === undefined || !f.parents.includes(node.parent.record.name))) return false;
  return true;
}
