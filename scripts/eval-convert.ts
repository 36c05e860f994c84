import { randomUUID } from 'node:crypto';
import type { EcsDocument } from '../agent/ecs/document.js';
import { Action, Dataset, ECS_VERSION, Kind, MODULE } from '../agent/ecs/fields.js';
import { addressScope } from '../agent/ecs/scope.js';

/** One record of the evalset's flat schema (see ../shared/evalset/README.md). */
export interface EvalEvent {
  event_id: string;
  source_id: string;
  os: 'windows' | 'linux';
  telemetry: string;
  event_type: string;
  timestamp: string;
  /** Sysmon's UtcTime: when the OS saw it (the log record may be written later, network events in batches). */
  event_time?: string;
  host: string;
  pid?: number;
  ppid?: number;
  image: string;
  parent_image?: string;
  command_line?: string;
  parent_command_line?: string;
  user?: string;
  parent_user?: string;
  subject_user?: string;
  current_directory?: string;
  process_guid?: string;
  parent_process_guid?: string;
  protocol?: string;
  initiated?: boolean;
  src_ip?: string;
  src_port?: number;
  dst_ip?: string;
  dst_port?: number;
}

/** `\device\harddiskvolume2\windows\...` (4688/WFP) -> `C:\windows\...`. */
export function normalisePath(p: string): string {
  return p.replace(/^\\device\\harddiskvolume\d+\\/i, 'C:\\');
}

const basename = (p: string): string => p.split(/[\\/]/).pop() ?? p;

function userBlock(u: string | undefined): Record<string, string> | undefined {
  if (u === undefined || u === '' || u === '-') return undefined;
  const i = u.indexOf('\\');
  return i === -1 ? { name: u } : { domain: u.slice(0, i), name: u.slice(i + 1) };
}

/** Sysmon writes `?` for what it does not know. */
const known = (v: string | undefined): string | undefined => (v === undefined || v === '?' || v === '' ? undefined : v);

function procBlock(imageRaw: string | undefined, pid: number | undefined, guid: string | undefined, cmdRaw: string | undefined, user: string | undefined): Record<string, unknown> {
  const image = known(imageRaw);
  const cmd = known(cmdRaw);
  const out: Record<string, unknown> = {};
  if (pid !== undefined) out.pid = pid;
  if (guid !== undefined) out.entity_id = guid;
  if (image !== undefined && image !== '') {
    const exe = normalisePath(image);
    out.name = basename(exe);
    if (/[\\/]/.test(exe)) out.executable = exe;
  }
  if (cmd !== undefined) out.command_line = cmd;
  const u = userBlock(user);
  if (u !== undefined) out.user = { name: u.name };
  return out;
}

/** When it happened: Sysmon's UtcTime when given (a live agent sees the event then), else the record time. */
export function eventTime(e: EvalEvent): number {
  const t = e.event_time === undefined ? Number.NaN : Date.parse(`${e.event_time.replace(' ', 'T')}Z`);
  return Number.isNaN(t) ? Date.parse(e.timestamp) : t;
}

function base(e: EvalEvent, dataset: Dataset, action: string, category: string, type: string): EcsDocument {
  const created = new Date().toISOString();
  return {
    '@timestamp': new Date(eventTime(e)).toISOString(),
    ecs: { version: ECS_VERSION },
    event: { id: randomUUID(), kind: Kind.event, category: [category], type: [type], action, dataset, module: MODULE, created, sequence: 0 },
    data_stream: { type: 'logs', dataset, namespace: 'eval' },
    host: { id: e.host.toLowerCase(), name: e.host.toLowerCase(), hostname: e.host.toLowerCase(), os: { type: e.os } },
    labels: { eval_event_id: e.event_id },
  };
}

/** The local (listening) side of an accepted connection: the lower port, as services sit below the ephemeral range. */
function acceptedLocal(e: EvalEvent): { ip: string; port: number } | undefined {
  if (e.src_port === undefined || e.dst_port === undefined || e.src_ip === undefined || e.dst_ip === undefined) return undefined;
  return e.src_port <= e.dst_port ? { ip: e.src_ip, port: e.src_port } : { ip: e.dst_ip, port: e.dst_port };
}

/**
 * Turns one evalset record into what portwarden would have emitted, or undefined when the agent
 * would not see it: process starts become process events; WFP 5154 listens and Sysmon 3 accepted
 * connections (initiated=false) become listener events; binds (5158) and outbound connections do not.
 */
export function toEcs(e: EvalEvent): EcsDocument | undefined {
  if (e.event_type === 'process_start') {
    const doc = base(e, Dataset.process, e.os === 'windows' ? Action.processStart : Action.processExec, 'process', 'start');
    const user = e.user ?? e.subject_user;
    const proc = procBlock(e.image, e.pid, e.process_guid, e.command_line, user);
    if (e.current_directory !== undefined) proc.working_directory = e.current_directory;
    const parent = procBlock(e.parent_image, e.ppid, e.parent_process_guid, e.parent_command_line, e.parent_user);
    if (Object.keys(parent).length > 0) proc.parent = parent;
    doc.process = proc;
    const u = userBlock(user);
    if (u !== undefined) doc.user = u;
    return doc;
  }
  let local: { ip: string; port: number } | undefined;
  if (e.event_type === 'listen' && e.src_ip !== undefined && e.src_port !== undefined) local = { ip: e.src_ip, port: e.src_port };
  else if (e.telemetry === 'sysmon_3' && e.initiated === false) local = acceptedLocal(e);
  if (local === undefined) return undefined;
  const doc = base(e, Dataset.network, Action.listeningStarted, 'network', 'start');
  const endpoint = { ip: local.ip, port: local.port, address: local.ip };
  doc.destination = endpoint;
  doc.server = { ...endpoint };
  doc.network = { transport: (e.protocol ?? 'tcp').toLowerCase(), type: local.ip.includes(':') ? 'ipv6' : 'ipv4' };
  doc.portwarden = { listener: { scope: addressScope(local.ip), netns: 'host', owners: e.pid === undefined ? [] : [e.pid] } };
  doc.process = procBlock(e.image, e.pid, e.process_guid, undefined, e.user);
  const u = userBlock(e.user);
  if (u !== undefined) doc.user = u;
  return doc;
}
