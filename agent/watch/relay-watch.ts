import type { DocumentBuilder } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import type { ProcessNode, ProcessTable } from '../lineage/process-table.js';
import type { Logger } from '../log/logger.js';
import type { EventSink } from '../pipeline/types.js';
import type { ConnectionRecord, Source } from '../sources/types.js';
import type { DetectConfig } from '../detect/config.js';
import { expectedRelay, isLoopback, RELAY_RULE_ID } from '../detect/relay-detector.js';
import { errorMessage } from '../util/errors.js';
import type { Lifecycle } from '../util/lifecycle.js';
import type { TrackedListener } from './listener-diff.js';
import type { Detect } from './watcher.js';

/** Holders whose children are every service on the host (socket activation): not followed to their children. */
const INIT = new Set(['systemd', 'init', 'launchd']);
/** Connections of one process turned into documents per check, at most (each way). */
const MAX_PER_PROCESS = 8;
/**
 * How long a process that stopped listening stays watched: a one-shot forwarder (socat without
 * `fork`, `nc -l`) closes its listener when it accepts, then relays.
 */
const FORMER_HOLDER_MS = 10 * 60_000;
/** Former holders remembered at most (besides the current ones). */
const MAX_FORMER = 1024;

export interface RelayWatchOptions {
  source: Source;
  /** The watch's current listeners (Watcher.current). */
  listeners: () => readonly TrackedListener[];
  table: ProcessTable;
  builder: DocumentBuilder;
  sink: EventSink;
  /** Read at each check, as a reload may replace it; undefined: detection is off and nothing is read. */
  detect: () => Detect | undefined;
  /** Read at each check: how often to look (ms), undefined when the relay watch is off. */
  intervalMs: () => number | undefined;
  /** Read at each check: candidate processes read and evaluated per look at most (detect.relay.max_per_look); undefined: no bound. */
  maxPerLook?: () => number | undefined;
  logger: Logger;
}

/** How the per-look budget went, since start (the heartbeat's `portwarden.relay_watch`). */
export interface RelayBudgetReport {
  /** detect.relay.max_per_look at the last look over it. */
  max_per_look: number;
  /** Candidate processes at that look, and how many of them were left to the next looks. */
  candidates: number;
  deferred: number;
  /** Looks that had more candidates than the budget, since start. */
  looks_over_budget: number;
  last_over_budget: string;
}

/**
 * Looks for listening processes that relay: every interval it reads the established TCP connections
 * of the processes holding a TCP listener (and of their direct children: a fork-per-connection
 * server hands the accepted connection to a child), and for each process that holds at the same time
 * a connection accepted on a listening port of its namespace and one it opened to a non-loopback
 * address, hands both as `connection_observed` documents to detection (relay-detector.ts). Only
 * documents that raised an alert are shipped, with their alerts: a server's connections are not
 * events of their own. Expected forwarders (docker-proxy, reverse proxies) are not read at all.
 */
export class RelayWatch implements Lifecycle {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  /**
   * Processes seen holding a TCP listener, by pid: when they were last seen holding one, and its
   * `netns|address|port` keys (a connection on one of them was accepted, also once it is closed).
   */
  private readonly holders = new Map<number, { node: ProcessNode; at: number; ports: Set<string> }>();
  /**
   * Since when each candidate (pid|entity id) waits: the look (checks) that last read it, or just
   * before the look it appeared at (a new one queues behind those already waiting). Oldest first.
   */
  private readonly lastLook = new Map<string, number>();
  private report: RelayBudgetReport | undefined;
  checks = 0;

  constructor(private readonly o: RelayWatchOptions) {}

  start(): Promise<void> {
    this.stopped = false;
    this.schedule();
    return Promise.resolve();
  }

  private schedule(): void {
    if (this.stopped || this.o.source.connections === undefined) return;
    const every = this.o.intervalMs() ?? 5000;
    this.timer = setTimeout(() => {
      this.running = (this.o.intervalMs() === undefined ? Promise.resolve(0) : this.check())
        .catch((err: unknown) => { this.o.logger.warn(`relay watch failed: ${errorMessage(err)}`); })
        .finally(() => { this.running = undefined; this.schedule(); });
    }, every);
    this.timer.unref();
  }

  /** One look; resolves with the number of documents shipped (trigger documents and alerts). */
  async check(now = new Date()): Promise<number> {
    const detect = this.o.detect();
    const read = this.o.source.connections?.bind(this.o.source);
    if (detect === undefined || read === undefined) return 0;
    this.checks++;
    const { nodes: all, listening } = this.candidates(now.getTime());
    if (all.size === 0) return 0;
    const nodes = this.budgeted(all, now);
    const byPid = new Map<number, ConnectionRecord[]>();
    for (const c of read([...nodes.keys()])) {
      const list = byPid.get(c.pid);
      if (list === undefined) byPid.set(c.pid, [c]);
      else list.push(c);
    }
    const at = now.toISOString();
    let shipped = 0;
    for (const [pid, conns] of byPid) {
      const node = nodes.get(pid);
      if (node === undefined) continue;
      const accepted = conns.filter((c) => isAccepted(c, listening));
      const opened = conns.filter((c) => !isAccepted(c, listening) && !isLoopback(c.remoteAddress));
      if (accepted.length === 0 || opened.length === 0) continue;
      this.o.logger.debug(`relay watch: ${node.record.name} (pid ${pid}) holds ${accepted.length} accepted and ${opened.length} opened connection(s); evaluated`);
      const ancestors = this.o.table.ancestors(node);
      const docs = [
        ...accepted.slice(0, MAX_PER_PROCESS).map((c) => this.o.builder.connection(c, 'ingress', node, ancestors, at)),
        ...opened.slice(0, MAX_PER_PROCESS).map((c) => this.o.builder.connection(c, 'egress', node, ancestors, at)),
      ];
      for (const doc of docs) shipped += await this.evaluate(doc, detect);
    }
    return shipped;
  }

  /** The budget's report, once a look had more candidates than it; undefined before. */
  budgetReport(): RelayBudgetReport | undefined {
    return this.report === undefined ? undefined : { ...this.report };
  }

  /**
   * At most max_per_look candidates, round robin: the longest-waiting go first, so each is read
   * within ceil(candidates / budget) looks; the rest wait for the next look. A new candidate waits
   * behind the ones there before it: children forked anew at every look cannot starve the others.
   */
  private budgeted(all: Map<number, ProcessNode>, now: Date): Map<number, ProcessNode> {
    const keyOf = (pid: number, node: ProcessNode) => `${pid}|${node.entityId}`;
    const keys = new Set<string>();
    for (const [pid, node] of all) {
      const k = keyOf(pid, node);
      keys.add(k);
      if (!this.lastLook.has(k)) this.lastLook.set(k, this.checks - 0.5);
    }
    for (const k of this.lastLook.keys()) if (!keys.has(k)) this.lastLook.delete(k);
    const budget = this.o.maxPerLook?.();
    let nodes = all;
    if (budget !== undefined && all.size > budget) {
      const order = [...all].map(([pid, node], i) => ({ pid, node, i, last: this.lastLook.get(keyOf(pid, node)) ?? 0 }));
      order.sort((a, b) => a.last - b.last || a.i - b.i);
      const picked = new Set(order.slice(0, budget).map((c) => c.pid));
      nodes = new Map([...all].filter(([pid]) => picked.has(pid)));
      const first = this.report === undefined;
      this.report = {
        max_per_look: budget, candidates: all.size, deferred: all.size - budget,
        looks_over_budget: (this.report?.looks_over_budget ?? 0) + 1, last_over_budget: now.toISOString(),
      };
      const line = `relay watch: ${all.size} candidate processes, ${budget} read per look (detect.relay.max_per_look); ${all.size - budget} wait for the next looks`;
      if (first) this.o.logger.warn(`${line} (each is read within ${Math.ceil(all.size / budget)} looks)`);
      else this.o.logger.debug(line);
    }
    for (const [pid, node] of nodes) this.lastLook.set(keyOf(pid, node), this.checks);
    return nodes;
  }

  private async evaluate(doc: EcsDocument, detect: Detect): Promise<number> {
    const alerts = detect(doc);
    if (alerts.length === 0) return 0;
    await this.o.sink.accept(doc);
    for (const a of alerts) await this.o.sink.accept(a);
    return 1 + alerts.length;
  }

  /**
   * Holders of TCP listeners, processes that held one in the last FORMER_HOLDER_MS, and the
   * holders' direct children (live, not expected forwarders); and the listening ports per namespace,
   * former holders' included.
   */
  private candidates(now: number): { nodes: Map<number, ProcessNode>; listening: Map<string, Set<string>> } {
    const nodes = new Map<number, ProcessNode>();
    const listening = new Map<string, Set<string>>();
    const listen = (netns: string, key: string) => {
      let ports = listening.get(netns);
      if (ports === undefined) listening.set(netns, (ports = new Set()));
      ports.add(key);
    };
    const parents = new Set<number>();
    const held = new Map<number, Set<string>>();
    for (const l of this.o.listeners()) {
      const r = l.record;
      if (r.transport !== 'tcp') continue;
      listen(r.netns, `${r.address}|${r.port}`);
      for (const pid of r.owners) {
        const node = this.o.table.get(pid);
        if (node === undefined || node.exitedAt !== undefined) continue;
        if (!INIT.has(node.record.name)) parents.add(pid);
        if (expectedRelay(node.record.name, node.record.executable)) continue;
        nodes.set(pid, node);
        let keys = held.get(pid);
        if (keys === undefined) held.set(pid, (keys = new Set()));
        keys.add(`${r.netns}|${r.address}|${r.port}`);
      }
    }
    for (const [pid, node] of nodes) {
      if (!this.holders.has(pid)) this.o.logger.debug(`relay watch: watching ${node.record.name} (pid ${pid}), which listens`);
      this.holders.delete(pid);
      this.holders.set(pid, { node, at: now, ports: held.get(pid) ?? new Set() });
    }
    for (const [pid, h] of this.holders) {
      // The same process (a later read may complete its record into a new node), still running.
      const live = this.o.table.get(pid);
      if (now - h.at > FORMER_HOLDER_MS || live === undefined || live.entityId !== h.node.entityId || live.exitedAt !== undefined) {
        this.holders.delete(pid);
        continue;
      }
      if (!nodes.has(pid)) nodes.set(pid, live);
      for (const key of h.ports) {
        const cut = key.indexOf('|');
        listen(key.slice(0, cut), key.slice(cut + 1));
      }
    }
    // Bounds the former holders only: the current ones were moved to the end above, so the oldest
    // entries are former ones, and a host with more than MAX_FORMER listening processes still
    // remembers a one-shot forwarder.
    while (this.holders.size > MAX_FORMER + held.size) this.holders.delete(this.holders.keys().next().value ?? -1);
    if (parents.size > 0) {
      for (const node of this.o.table.liveNodes()) {
        const r = node.record;
        if (parents.has(r.ppid) && !nodes.has(r.pid) && !expectedRelay(r.name, r.executable)) nodes.set(r.pid, node);
      }
    }
    return { nodes, listening };
  }

  flush(): Promise<void> {
    return Promise.resolve(this.running).then(() => undefined);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/** The relay watch's interval under these detection settings; undefined when it has nothing to feed. */
export function relayInterval(c: DetectConfig): number | undefined {
  return c.enabled && c.relay.enabled && !c.disabled_rules.includes(RELAY_RULE_ID) ? c.relay.interval : undefined;
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/** Accepted on a listening port of its namespace (a wildcard listener or one on the same address); else opened by connect(). */
function isAccepted(c: ConnectionRecord, listening: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  const ports = listening.get(c.netns);
  if (ports === undefined) return false;
  if (ports.has(`${c.localAddress}|${c.localPort}`)) return true;
  for (const w of WILDCARD) if (ports.has(`${w}|${c.localPort}`)) return true;
  // An IPv4 client of a dual-stack IPv6 listener shows its local address as ::ffff:a.b.c.d.
  return c.localAddress.startsWith('::ffff:') && ports.has(`${c.localAddress.slice(7)}|${c.localPort}`);
}
