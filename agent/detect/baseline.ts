import { readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { errorMessage, PortwardenError } from '../util/errors.js';
import { writeAtomicSync } from '../util/safe-fs.js';

export type BaselineKind = 'listeners' | 'pairs';
/** `learning`: recorded, no alert; `known`: seen before; `new`: first seen after learning (recorded now). */
export type Observation = 'learning' | 'known' | 'new';

interface HostState {
  learningStarted: number;
  listeners: Map<string, string>;
  pairs: Map<string, string>;
}

/** The on-disk and export format. */
export interface BaselineFile {
  version: 1;
  hosts: Record<string, { learning_started: string; listeners: Record<string, string>; pairs: Record<string, string> }>;
  /** Entries imported from other hosts (`portwarden baseline import`): known on every host. */
  fleet: { listeners: Record<string, string>; pairs: Record<string, string> };
}

export interface BaselineOptions {
  /** Where it lives; undefined keeps it in memory (replay, tests). */
  file?: string | undefined;
  learningMs: number;
  maxEntries: number;
  logger: Logger;
}

const entries = (r: unknown): [string, string][] =>
  r !== null && typeof r === 'object' ? Object.entries(r as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string') : [];

/**
 * The learned per-host baseline: (program, port, scope) listeners and (parent -> child) pairs.
 * Learning starts at the first event seen for a host and lasts `learningMs` of event time.
 * Written atomically (tmp, fsync, rename) by `save()`; a corrupt file is reported and replaced.
 */
export class Baseline {
  private readonly hosts = new Map<string, HostState>();
  private readonly fleet = { listeners: new Map<string, string>(), pairs: new Map<string, string>() };
  private dirty = false;

  constructor(private readonly o: BaselineOptions) {
    if (o.file !== undefined) this.load(o.file);
  }

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    try {
      this.merge(JSON.parse(text) as unknown, false);
    } catch (err) {
      this.o.logger.warn(`baseline ${file} is unreadable (${errorMessage(err)}); learning again from scratch`);
    }
  }

  /** Loads a file's content: as this file's own state, or (import) into the fleet entries. */
  merge(raw: unknown, intoFleet: boolean): number {
    if (raw === null || typeof raw !== 'object' || (raw as { version?: unknown }).version !== 1) throw new PortwardenError('BASELINE_INVALID', 'not a portwarden baseline (version 1)');
    const f = raw as Partial<BaselineFile>;
    let n = 0;
    const put = (m: Map<string, string>, r: unknown) => { for (const [k, v] of entries(r)) { if (!m.has(k)) { m.set(k, v); n++; } } };
    for (const [id, h] of Object.entries(f.hosts ?? {})) {
      if (intoFleet) {
        put(this.fleet.listeners, h.listeners);
        put(this.fleet.pairs, h.pairs);
        continue;
      }
      const started = Date.parse(h.learning_started);
      const st: HostState = { learningStarted: Number.isNaN(started) ? Date.now() : started, listeners: new Map(), pairs: new Map() };
      put(st.listeners, h.listeners);
      put(st.pairs, h.pairs);
      this.hosts.set(id, st);
    }
    put(this.fleet.listeners, f.fleet?.listeners);
    put(this.fleet.pairs, f.fleet?.pairs);
    if (intoFleet && n > 0) this.dirty = true;
    return n;
  }

  /** Records a key and says whether it is news. */
  observe(hostId: string, kind: BaselineKind, key: string, now: number): Observation {
    let st = this.hosts.get(hostId);
    if (st === undefined) {
      st = { learningStarted: now, listeners: new Map(), pairs: new Map() };
      this.hosts.set(hostId, st);
      this.dirty = true;
    }
    const map = st[kind];
    if (map.has(key) || this.fleet[kind].has(key)) return 'known';
    map.set(key, new Date(now).toISOString());
    if (map.size > this.o.maxEntries) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    this.dirty = true;
    return now < st.learningStarted + this.o.learningMs ? 'learning' : 'new';
  }

  /** True while the host is still learning. */
  learning(hostId: string, now: number): boolean {
    const st = this.hosts.get(hostId);
    return st === undefined || now < st.learningStarted + this.o.learningMs;
  }

  toJSON(): BaselineFile {
    const obj = (m: Map<string, string>) => Object.fromEntries(m);
    const hosts: BaselineFile['hosts'] = {};
    for (const [id, st] of this.hosts) {
      hosts[id] = { learning_started: new Date(st.learningStarted).toISOString(), listeners: obj(st.listeners), pairs: obj(st.pairs) };
    }
    return { version: 1, hosts, fleet: { listeners: obj(this.fleet.listeners), pairs: obj(this.fleet.pairs) } };
  }

  /** Writes the file when something changed. Never throws: a failed write is logged and retried later. */
  save(): void {
    if (this.o.file === undefined || !this.dirty) return;
    try {
      writeAtomicSync(this.o.file, `${JSON.stringify(this.toJSON())}\n`);
      this.dirty = false;
    } catch (err) {
      this.o.logger.warn(`cannot write baseline ${this.o.file}: ${errorMessage(err)}`);
    }
  }
}
