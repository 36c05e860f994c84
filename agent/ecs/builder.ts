import type { ProcessNode } from '../lineage/process-table.js';
import type { ConnectionRecord, ListenerRecord } from '../sources/types.js';
import { isoNow } from '../util/iso-now.js';
import { uuidv7 } from '../util/uuid7.js';
import type { AgentInfo } from './agent-info.js';
import type { AgentEventInput, EcsDocument } from './document.js';
import { Action, Dataset, ECS_VERSION, Kind, MODULE } from './fields.js';
import type { HostContext } from './host.js';
import { attachOwner, processBlock } from './process-fields.js';
import { addressInfo } from './scope.js';

export interface BaseOptions {
  dataset: Dataset;
  kind: Kind;
  action: string;
  category?: string[];
  type?: string[];
  /** When it happened (ISO); now when absent. */
  timestamp?: string;
  message?: string;
}

/** What a listener document needs beyond the socket. */
export interface ListenerEventOptions {
  action: typeof Action.listeningStarted | typeof Action.listeningStopped | typeof Action.listeningExisting;
  /** `state` for scheduled inventories; `event` otherwise. */
  kind?: typeof Kind.event | typeof Kind.state;
  timestamp?: string;
  /** First seen (listening_stopped: event.start) and last seen (event.end). */
  start?: string;
  end?: string;
}

export type ProcessAction = typeof Action.processStart | typeof Action.processExec | typeof Action.processEnd | typeof Action.alreadyRunning;

/** Deep-merges plain objects (b wins), for callers that add fields to a base document. */
export function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? mergeFields(prev, v) : v;
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const IANA: Record<string, string> = { tcp: '6', udp: '17' };
const TYPE_BY_ACTION: Record<string, string> = {
  listening_started: 'start', listening_stopped: 'end', listening_existing: 'info',
  start: 'start', exec: 'start', end: 'end', already_running: 'info',
};

/** Where `event.created`, `event.id` and a missing `@timestamp` come from: the system clock, or a fixed one (docs). */
export interface BuilderClock {
  now(): number;
  id(now: number): string;
}
const SYSTEM_CLOCK: BuilderClock = { now: Date.now, id: uuidv7 };

/**
 * Builds every portwarden document. Each call sets a fresh `event.id` (UUIDv7) and the next
 * `event.sequence`; host and agent blocks come from the context read at start-up.
 */
export class DocumentBuilder {
  private sequence = 0;
  // Shared by every document (never copied per event); frozen so an accidental mutation throws.
  private readonly frozenHost: HostContext;
  private readonly frozenAgent: AgentInfo;

  constructor(
    readonly host: HostContext, readonly agent: AgentInfo, private readonly namespace = 'default',
    private readonly clock: BuilderClock = SYSTEM_CLOCK,
  ) {
    this.frozenHost = deepFreeze(structuredClone(host));
    this.frozenAgent = deepFreeze({ ...agent });
  }

  base(o: BaseOptions): EcsDocument {
    const now = this.clock.now();
    const created = isoNow(now);
    const doc: EcsDocument = {
      '@timestamp': o.timestamp ?? created,
      ...(o.message === undefined ? {} : { message: o.message }),
      ecs: { version: ECS_VERSION },
      event: {
        id: this.clock.id(now),
        kind: o.kind,
        ...(o.category === undefined ? {} : { category: o.category }),
        ...(o.type === undefined ? {} : { type: o.type }),
        action: o.action,
        dataset: o.dataset,
        module: MODULE,
        created,
        sequence: ++this.sequence,
      },
      data_stream: { type: 'logs', dataset: o.dataset, namespace: this.namespace },
      agent: this.frozenAgent,
      host: this.frozenHost,
    };
    return doc;
  }

  /** A listener event, with its owner (the oldest holder) and the owner's ancestry. */
  listener(l: ListenerRecord & { zone?: string }, owner: ProcessNode | undefined, ancestors: readonly ProcessNode[], o: ListenerEventOptions): EcsDocument {
    const { scope, ip: isIp } = addressInfo(l.address);
    const action = o.action;
    const doc = this.base({
      dataset: Dataset.network,
      kind: o.kind ?? Kind.event,
      action,
      category: ['network'],
      type: [TYPE_BY_ACTION[action] ?? 'info'],
      ...(o.timestamp === undefined ? {} : { timestamp: o.timestamp }),
    });
    if (o.start !== undefined) doc.event.start = o.start;
    if (o.end !== undefined) doc.event.end = o.end;
    if (o.start !== undefined && o.end !== undefined) {
      doc.event.duration = Math.max(0, Date.parse(o.end) - Date.parse(o.start)) * 1_000_000;
    }
    const ip = isIp ? l.address : undefined;
    const endpoint = { ...(ip === undefined ? {} : { ip }), port: l.port, address: l.address };
    const listener: Record<string, unknown> = { scope, netns: l.netns, owners: l.owners };
    if (l.inode > 0) listener.socket_inode = String(l.inode);
    if (l.zone !== undefined) listener.interface = l.zone;
    if (l.uid !== undefined) listener.uid = String(l.uid);
    if (l.serviceName !== undefined) listener.service_name = l.serviceName;
    if (l.boundAt !== undefined) listener.bound_at = l.boundAt;
    if (l.firewall !== undefined) listener.firewall = l.firewall;
    // The base document is fresh and has none of these roots: assign, don't merge.
    doc.destination = endpoint;
    doc.server = { ...endpoint };
    doc.network = { transport: l.transport, type: l.family, iana_number: IANA[l.transport] };
    const related: Record<string, unknown> = ip === undefined ? {} : { ip: [ip] };
    if (owner !== undefined) {
      attachOwner(doc, related, owner, ancestors, { listener });
    } else {
      doc.portwarden = { listener };
      if (l.uid !== undefined) doc.user = { id: String(l.uid), ...(l.userName === undefined ? {} : { name: l.userName }) };
    }
    doc.related = related;
    return doc;
  }

  /**
   * An established TCP connection of `owner` (`connection_observed`): `ingress` when it was accepted
   * on a listening port (source: the client, destination: the local end), `egress` when the process
   * opened it (source: the local end, destination: the peer). `source.bytes` / `destination.bytes`
   * are what each side sent, as far as the kernel counted.
   */
  connection(c: ConnectionRecord, direction: 'ingress' | 'egress', owner: ProcessNode, ancestors: readonly ProcessNode[], timestamp?: string): EcsDocument {
    const doc = this.base({
      dataset: Dataset.network, kind: Kind.event, action: Action.connectionObserved, category: ['network'], type: ['connection', 'info'],
      ...(timestamp === undefined ? {} : { timestamp }),
    });
    const local = { ip: c.localAddress, port: c.localPort };
    const remote = { ip: c.remoteAddress, port: c.remotePort };
    const ingress = direction === 'ingress';
    const sent = (bytes: number | undefined) => (bytes === undefined ? {} : { bytes });
    doc.source = { ...(ingress ? remote : local), ...sent(ingress ? c.bytesRead : c.bytesWritten) };
    doc.destination = { ...(ingress ? local : remote), ...sent(ingress ? c.bytesWritten : c.bytesRead) };
    doc.network = { transport: 'tcp', type: c.family, iana_number: IANA.tcp, direction };
    const p = processBlock(owner, ancestors);
    doc.process = p.process;
    if (p.user !== undefined) doc.user = p.user;
    if (p.container !== undefined) doc.container = p.container;
    doc.portwarden = { ...p.portwarden, connection: { netns: c.netns, socket_inode: String(c.inode) } };
    doc.related = { ip: [...new Set([c.localAddress, c.remoteAddress])], ...(p.relatedUsers.length > 0 ? { user: p.relatedUsers } : {}) };
    return doc;
  }

  /** A process event about `node`, with its parent and ancestry as captured in the table. */
  process(action: ProcessAction, node: ProcessNode, ancestors: readonly ProcessNode[], timestamp?: string): EcsDocument {
    const doc = this.base({
      dataset: Dataset.process,
      kind: Kind.event,
      action,
      category: ['process'],
      type: [TYPE_BY_ACTION[action] ?? 'info'],
      timestamp: timestamp ?? (action === 'start' || action === 'exec' ? node.record.start : new Date(this.clock.now()).toISOString()),
    });
    const p = processBlock(node, ancestors);
    doc.process = action === 'end' && node.exitedAt !== undefined
      ? { ...p.process, end: new Date(node.exitedAt).toISOString() }
      : p.process;
    if (p.user !== undefined) doc.user = p.user;
    if (p.container !== undefined) doc.container = p.container;
    doc.portwarden = p.portwarden;
    if (p.relatedUsers.length > 0) doc.related = { user: p.relatedUsers };
    return doc;
  }

  /** A `portwarden.agent` document (heartbeat, events_lost, output_paused ...). */
  readonly agentEvent = (input: AgentEventInput): EcsDocument => {
    const doc = this.base({ dataset: Dataset.agent, kind: input.kind ?? Kind.event, action: input.action, message: input.message });
    if (input.severity !== undefined) doc.event.severity = input.severity;
    return (input.fields === undefined ? doc : mergeFields(doc, input.fields)) as EcsDocument;
  };
}
