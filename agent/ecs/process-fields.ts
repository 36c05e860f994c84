import type { ProcessNode } from '../lineage/process-table.js';
import type { ProcessRecord } from '../sources/types.js';

/** Longest command line shipped; longer ones are cut and flagged `portwarden.process.truncated`. */
export const MAX_COMMAND_LINE = 32 * 1024;
const MAX_ARGS = 256;
const MAX_ARG = 4 * 1024;
const MAX_LINEAGE_COMMAND_LINE = 1024;

function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  // Never split a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(s.charAt(n - 1)) ? n - 1 : n;
  return s.slice(0, end);
}

function userOf(r: ProcessRecord, withDomain = true): Record<string, unknown> | undefined {
  if (r.uid === undefined && r.userName === undefined) return undefined;
  return {
    ...(r.uid === undefined ? {} : { id: String(r.uid) }),
    ...(r.userName === undefined ? {} : { name: r.userName }),
    ...(r.userDomain === undefined || !withDomain ? {} : { domain: r.userDomain }),
  };
}

/** The fields of one process as ECS `process.*` (also used for `process.parent.*`). */
function describe(node: ProcessNode): { fields: Record<string, unknown>; truncated: boolean } {
  const r = node.record;
  let truncated = r.argsTruncated === true;
  const f: Record<string, unknown> = { pid: r.pid, entity_id: node.entityId, name: r.name, start: r.start };
  if (r.executable !== undefined) f.executable = r.executable;
  if (r.commandLine !== undefined) {
    f.command_line = cut(r.commandLine, MAX_COMMAND_LINE);
    truncated ||= r.commandLine.length > MAX_COMMAND_LINE;
  }
  if (r.args !== undefined) {
    f.args = r.args.slice(0, MAX_ARGS).map((a) => cut(a, MAX_ARG));
    f.args_count = Math.max(r.argsCount ?? 0, r.args.length);
    truncated ||= r.args.length > MAX_ARGS || r.args.some((a) => a.length > MAX_ARG);
  }
  if (r.workingDirectory !== undefined) f.working_directory = r.workingDirectory;
  // ECS has no process.user.domain (only the top-level user.domain).
  const user = userOf(r, false);
  if (user !== undefined) f.user = user;
  if (r.realUid !== undefined) f.real_user = { id: String(r.realUid), ...(r.realUserName === undefined ? {} : { name: r.realUserName }) };
  if (r.md5 !== undefined || r.sha1 !== undefined || r.sha256 !== undefined) {
    f.hash = {
      ...(r.md5 === undefined ? {} : { md5: r.md5 }),
      ...(r.sha1 === undefined ? {} : { sha1: r.sha1 }),
      ...(r.sha256 === undefined ? {} : { sha256: r.sha256 }),
    };
  }
  if (r.originalFileName !== undefined || r.pe !== undefined) {
    const pe = r.pe ?? {};
    f.pe = {
      ...(r.originalFileName === undefined ? {} : { original_file_name: r.originalFileName }),
      ...(pe.description === undefined ? {} : { description: pe.description }),
      ...(pe.product === undefined ? {} : { product: pe.product }),
      ...(pe.company === undefined ? {} : { company: pe.company }),
      ...(pe.fileVersion === undefined ? {} : { file_version: pe.fileVersion }),
      ...(pe.imphash === undefined ? {} : { imphash: pe.imphash }),
    };
  }
  if (r.codeSignature !== undefined) {
    f.code_signature = {
      exists: r.codeSignature.exists,
      ...(r.codeSignature.trusted === undefined ? {} : { trusted: r.codeSignature.trusted }),
      ...(r.codeSignature.subjectName === undefined ? {} : { subject_name: r.codeSignature.subjectName }),
    };
  }
  return { fields: f, truncated };
}

/** One ancestor for humans in `portwarden.lineage`. */
function lineageEntry(n: ProcessNode): Record<string, unknown> {
  const r = n.record;
  return {
    pid: r.pid,
    entity_id: n.entityId,
    name: r.name,
    ...(r.executable === undefined ? {} : { executable: r.executable }),
    ...(r.commandLine === undefined ? {} : { command_line: cut(r.commandLine, MAX_LINEAGE_COMMAND_LINE) }),
    ...(r.userName === undefined ? {} : { user: r.userName }),
    start: r.start,
  };
}

/**
 * `process.*` (with parent, leaders and ancestry), top-level `user.*`, `container.id` and the
 * `portwarden.lineage` / `portwarden.process` parts of a document about `node`.
 */
export interface ProcessBlock {
  process: Record<string, unknown>;
  user?: Record<string, unknown>;
  container?: Record<string, unknown>;
  portwarden: Record<string, unknown>;
  relatedUsers: string[];
}

/**
 * Puts an owning process on a socket document: `process`, `user`, `container`, `portwarden` (its
 * own `part` first, then the block's lineage and flags) and the block's users in `related.user`.
 */
export function attachOwner(doc: Record<string, unknown>, related: Record<string, unknown>, owner: ProcessNode,
  ancestors: readonly ProcessNode[], part: Record<string, unknown>): void {
  const p = processBlock(owner, ancestors);
  doc.process = p.process;
  if (p.user !== undefined) doc.user = p.user;
  if (p.container !== undefined) doc.container = p.container;
  doc.portwarden = { ...part, ...p.portwarden };
  if (p.relatedUsers.length > 0) related.user = p.relatedUsers;
}

// A node's record and its ancestors never change (an exec makes a new node), so its block is
// built once and shared by every document about it (a pre-fork server's 100 sockets); never mutate it.
const cache = new WeakMap<ProcessNode, ProcessBlock>();

export function processBlock(node: ProcessNode, ancestors: readonly ProcessNode[]): ProcessBlock {
  const hit = cache.get(node);
  if (hit !== undefined && hit.process.Ext !== undefined
    && (hit.process.Ext as { ancestry: string[] }).ancestry.length === ancestors.length) return hit;
  const block = Object.freeze(buildBlock(node, ancestors));
  cache.set(node, block);
  return block;
}

function buildBlock(node: ProcessNode, ancestors: readonly ProcessNode[]): ProcessBlock {
  const self = describe(node);
  const process = self.fields;
  const r = node.record;
  const parent = ancestors[0];
  let truncated = self.truncated;
  if (parent !== undefined) {
    const p = describe(parent);
    process.parent = p.fields;
    truncated ||= p.truncated;
  } else if (r.ppid > 0) {
    process.parent = { pid: r.ppid };
  }
  if (r.pgid !== undefined && r.pgid > 0) process.group_leader = { pid: r.pgid };
  if (r.sid !== undefined && r.sid > 0) process.session_leader = { pid: r.sid };
  process.Ext = {
    ancestry: ancestors.map((a) => a.entityId),
    ...(r.integrityLevel === undefined ? {} : { token: { integrity_level_name: r.integrityLevel } }),
  };
  const pw: Record<string, unknown> = { lineage: ancestors.map(lineageEntry) };
  const flags: Record<string, unknown> = {};
  if (r.executableDeleted === true) flags.executable_deleted = true;
  if (truncated) flags.truncated = true;
  if (r.netns !== undefined) flags.netns = r.netns;
  if (r.stdin !== undefined) flags.stdin = r.stdin;
  if (r.stdout !== undefined) flags.stdout = r.stdout;
  if (r.userNoLogin === true) flags.user_nologin = true;
  if (parent?.record.userNoLogin === true) flags.parent_user_nologin = true;
  // ECS has no process.parent.user.domain; Sigma's ParentUser (DOMAIN\name) needs it on Windows.
  if (parent?.record.userDomain !== undefined) flags.parent_user_domain = parent.record.userDomain;
  if (Object.keys(flags).length > 0) pw.process = flags;
  const user = userOf(r);
  const relatedUsers = [...new Set([r.userName, parent?.record.userName].filter((u): u is string => u !== undefined))];
  return {
    process,
    ...(user === undefined ? {} : { user }),
    ...(r.containerId === undefined ? {} : { container: { id: r.containerId } }),
    portwarden: pw,
    relatedUsers,
  };
}
