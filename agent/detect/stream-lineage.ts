import { mergeFields } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import { getField, stringField } from '../ecs/document.js';
import { Action, Dataset, F } from '../ecs/fields.js';
import { MAX_ANCESTRY } from '../lineage/process-table.js';

/** What a recorded stream told us about one process. */
interface Known {
  entityId?: string;
  pid?: number;
  name?: string;
  executable?: string;
  commandLine?: string;
  start?: string;
  user?: Record<string, unknown>;
  parentEntityId?: string;
  parentPid?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);

function fromBlock(p: unknown): Known {
  const k: Known = {};
  const set = <K extends keyof Known>(key: K, v: Known[K] | undefined) => { if (v !== undefined) k[key] = v; };
  set('entityId', stringField(p, 'entity_id'));
  set('pid', num(getField(p, 'pid')));
  set('name', stringField(p, 'name'));
  set('executable', stringField(p, 'executable'));
  set('commandLine', stringField(p, 'command_line'));
  set('start', stringField(p, 'start'));
  const user = getField(p, 'user');
  if (user !== null && typeof user === 'object') k.user = user as Record<string, unknown>;
  set('parentEntityId', stringField(p, 'parent.entity_id'));
  set('parentPid', num(getField(p, 'parent.pid')));
  return k;
}

function block(k: Known): Record<string, unknown> {
  return {
    ...(k.pid === undefined ? {} : { pid: k.pid }),
    ...(k.entityId === undefined ? {} : { entity_id: k.entityId }),
    ...(k.name === undefined ? {} : { name: k.name }),
    ...(k.executable === undefined ? {} : { executable: k.executable }),
    ...(k.commandLine === undefined ? {} : { command_line: k.commandLine }),
    ...(k.start === undefined ? {} : { start: k.start }),
    ...(k.user === undefined ? {} : { user: k.user }),
  };
}

function lineageEntry(a: Known): Record<string, unknown> {
  const { user, ...rest } = block(a);
  const name = stringField(user, 'name');
  return { ...rest, ...(a.commandLine === undefined ? {} : { command_line: a.commandLine.slice(0, 1024) }), ...(name === undefined ? {} : { user: name }) };
}

const FOREIGN_START = (doc: EcsDocument): boolean => {
  const cat = getField(doc, F.eventCategory);
  const type = getField(doc, F.eventType);
  return Array.isArray(cat) && cat.includes('process') && Array.isArray(type) && type.includes('start');
};

/**
 * Rebuilds lineage from a recorded stream (portwarden's own events, or Winlogbeat/Sysmon-style ECS
 * process starts): remembers every process by entity id and by host+pid, then fills a later
 * document's missing `process.parent.*`, `process.Ext.ancestry` and `portwarden.lineage`.
 */
export class StreamLineage {
  private readonly byEntity = new Map<string, Known>();
  private readonly byPid = new Map<string, Known>();

  /** Normalises a foreign process start into a portwarden one, enriches it, and remembers it. */
  next(raw: EcsDocument): EcsDocument {
    let doc = raw;
    if (doc.event.dataset !== Dataset.process && FOREIGN_START(doc)) {
      doc = { ...doc, event: { ...doc.event, action: Action.processStart, dataset: Dataset.process } };
    }
    const host = stringField(doc, F.hostId) ?? stringField(doc, F.hostName) ?? '';
    const self = fromBlock(doc.process);
    const isProcess = doc.event.dataset === Dataset.process && doc.event.action !== Action.processEnd;
    const known = this.lookup(host, self.entityId, self.pid);
    // A listener seen by pid only takes the process facts a start event told us.
    const merged: Known = { ...(isProcess ? {} : known), ...self };
    const parentEntity = merged.parentEntityId ?? known?.parentEntityId;
    // A parent named by entity id but never seen is unknown: a pid lookup could pick a reused pid.
    const parent = parentEntity !== undefined
      ? this.lookup(host, parentEntity, undefined)
      : this.lookup(host, undefined, merged.parentPid ?? known?.parentPid);
    const chain = this.ancestors(host, parent);
    const add: Record<string, unknown> = {};
    if (merged.pid !== undefined || merged.name !== undefined) {
      const p = block(merged);
      const parentBlock = mergeFields(parent === undefined ? {} : block(parent), (getField(doc, 'process.parent') ?? {}) as Record<string, unknown>);
      if (Object.keys(parentBlock).length > 0) p.parent = parentBlock;
      if (getField(doc, F.processAncestry) === undefined && chain.length > 0) p.Ext = { ancestry: chain.flatMap((a) => (a.entityId === undefined ? [] : [a.entityId])) };
      add.process = p;
    }
    if (getField(doc, F.lineage) === undefined && chain.length > 0) {
      add.portwarden = { lineage: chain.map(lineageEntry) };
    }
    const out = Object.keys(add).length === 0 ? doc : (mergeFields(doc, add) as EcsDocument);
    if (isProcess) this.remember(host, { ...merged, ...(merged.parentPid === undefined && parent?.pid !== undefined ? { parentPid: parent.pid } : {}) });
    return out;
  }

  private lookup(host: string, entityId: string | undefined, pid: number | undefined): Known | undefined {
    if (entityId !== undefined) {
      const k = this.byEntity.get(`${host}|${entityId}`);
      if (k !== undefined) return k;
    }
    return pid === undefined ? undefined : this.byPid.get(`${host}|${String(pid)}`);
  }

  private remember(host: string, k: Known): void {
    if (k.entityId !== undefined) this.byEntity.set(`${host}|${k.entityId}`, k);
    if (k.pid !== undefined) this.byPid.set(`${host}|${String(k.pid)}`, k);
  }

  private ancestors(host: string, first: Known | undefined): Known[] {
    const out: Known[] = [];
    const seen = new Set<Known>();
    for (let cur = first; cur !== undefined && out.length < MAX_ANCESTRY && !seen.has(cur);
      cur = cur.parentEntityId !== undefined ? this.lookup(host, cur.parentEntityId, undefined) : this.lookup(host, undefined, cur.parentPid)) {
      seen.add(cur);
      out.push(cur);
    }
    return out;
  }
}
