/**
 * Sigma field names (Sysmon's, as SigmaHQ writes them) to the ECS fields portwarden's events carry,
 * as pySigma's ECS pipelines (pySigma-backend-elasticsearch `ecs_windows`) map them, and which of
 * those fields the agent fills on each OS. A rule loads only when every field it names is filled
 * for its log source's product: a rule on a field the agent never fills could never fire.
 */
import type { OsType } from '../util/os.js';

export type SigmaCategory = 'process_creation' | 'network_connection';
export const SIGMA_CATEGORIES: readonly SigmaCategory[] = ['process_creation', 'network_connection'];

/** One Sigma field: its ECS field and, for fields whose values differ, how a value translates. */
export interface SigmaField {
  ecs: string;
  /** Sigma value -> ECS value (Initiated 'true' -> network.direction 'egress'). */
  value?: (v: string) => string | undefined;
}

const PROCESS: Readonly<Record<string, SigmaField>> = {
  Image: { ecs: 'process.executable' },
  ParentImage: { ecs: 'process.parent.executable' },
  CommandLine: { ecs: 'process.command_line' },
  ParentCommandLine: { ecs: 'process.parent.command_line' },
  OriginalFileName: { ecs: 'process.pe.original_file_name' },
  Description: { ecs: 'process.pe.description' },
  Product: { ecs: 'process.pe.product' },
  Company: { ecs: 'process.pe.company' },
  FileVersion: { ecs: 'process.pe.file_version' },
  ProcessId: { ecs: 'process.pid' },
  ParentProcessId: { ecs: 'process.parent.pid' },
  ProcessGuid: { ecs: 'process.entity_id' },
  ParentProcessGuid: { ecs: 'process.parent.entity_id' },
  CurrentDirectory: { ecs: 'process.working_directory' },
  User: { ecs: 'user.name' },
  ParentUser: { ecs: 'process.parent.user.name' },
  IntegrityLevel: { ecs: 'process.Ext.token.integrity_level_name' },
  LogonId: { ecs: 'winlog.event_data.LogonId' },
};

const bool = (yes: string, no: string) => (v: string): string | undefined => (v.toLowerCase() === 'true' ? yes : v.toLowerCase() === 'false' ? no : undefined);

// Sysmon's event 3 names the process by Image, ProcessId and User only; portwarden's connection
// events carry the whole process block (command line, parent, PE info), so rules may use those too.
const NETWORK: Readonly<Record<string, SigmaField>> = {
  ...PROCESS,
  DestinationIp: { ecs: 'destination.ip' },
  DestinationPort: { ecs: 'destination.port' },
  DestinationHostname: { ecs: 'destination.domain' },
  SourceIp: { ecs: 'source.ip' },
  SourcePort: { ecs: 'source.port' },
  SourceHostname: { ecs: 'source.domain' },
  Protocol: { ecs: 'network.transport' },
  Initiated: { ecs: 'network.direction', value: bool('egress', 'ingress') },
  SourceIsIpv6: { ecs: 'network.type', value: bool('ipv6', 'ipv4') },
  DestinationIsIpv6: { ecs: 'network.type', value: bool('ipv6', 'ipv4') },
};

export const SIGMA_FIELDS: Readonly<Record<SigmaCategory, Readonly<Record<string, SigmaField>>>> = {
  process_creation: PROCESS,
  network_connection: NETWORK,
};

/** Sigma's `Hashes` (`SHA256=...,MD5=...`): each algorithm is its own ECS field. */
export const HASH_FIELDS: Readonly<Record<string, string>> = {
  MD5: 'process.hash.md5',
  SHA1: 'process.hash.sha1',
  SHA256: 'process.hash.sha256',
  IMPHASH: 'process.pe.imphash',
};

const PROCESS_COMMON = [
  'process.executable', 'process.command_line', 'process.parent.executable', 'process.parent.command_line',
  'process.pid', 'process.parent.pid', 'process.entity_id', 'process.parent.entity_id', 'user.name', 'process.parent.user.name',
];
const NETWORK_COMMON = ['destination.ip', 'destination.port', 'source.ip', 'source.port', 'network.transport', 'network.direction', 'network.type'];

/**
 * What the agent fills, per OS (a rule on anything else could never fire, so it does not load).
 * Linux: the process reader and the real-time source (working directory from /proc). Windows: the
 * process table, the executable's PE version strings, imphash and hashes (agent/sources/pe/), and
 * the token integrity level and working directory (native-ffi.ts).
 * macOS: ps(1)'s view. Connection fields: connection events (replayed or forwarded; the agent has
 * an outbound-connection source on Linux only: eBPF connection_attempted, source.port when bound).
 */
export const FILLED: Readonly<Record<OsType, ReadonlySet<string>>> = {
  linux: new Set([...PROCESS_COMMON, ...NETWORK_COMMON, 'process.working_directory']),
  windows: new Set([...PROCESS_COMMON, ...NETWORK_COMMON, 'process.working_directory', 'process.Ext.token.integrity_level_name',
    'process.pe.original_file_name', 'process.pe.description', 'process.pe.product', 'process.pe.company', 'process.pe.file_version',
    'process.pe.imphash', 'process.hash.md5', 'process.hash.sha1', 'process.hash.sha256']),
  macos: new Set([...PROCESS_COMMON, ...NETWORK_COMMON]),
};

/** Why the agent leaves a field empty: the `rules check` reason for rules that need it. */
export const NOT_FILLED_WHY: Readonly<Record<string, string>> = {
  'process.Ext.token.integrity_level_name': 'token integrity levels are read on Windows only',
  'winlog.event_data.LogonId': 'logon sessions are not collected',
  'destination.domain': 'connection peers are not resolved to host names',
  'source.domain': 'connection peers are not resolved to host names',
  'process.pe.imphash': 'import hashes are computed for Windows (PE) executables only',
  'process.working_directory': 'the working directory is read on Linux and Windows only',
  'process.pe.description': 'PE version info is read on Windows only',
  'process.pe.product': 'PE version info is read on Windows only',
  'process.pe.company': 'PE version info is read on Windows only',
  'process.pe.file_version': 'PE version info is read on Windows only',
  'process.hash.md5': 'executable hashes are computed on Windows only',
  'process.hash.sha1': 'executable hashes are computed on Windows only',
  'process.hash.sha256': 'executable hashes are computed on Windows only',
  'process.pe.original_file_name': 'PE version info is read on Windows only',
};

/** The OSes a product names (`windows`, `linux`, `macos`); undefined for unknown products. */
export function productOs(product: unknown): OsType[] | undefined {
  if (product === undefined || product === null) return ['linux', 'windows', 'macos'];
  if (product === 'windows' || product === 'linux' || product === 'macos') return [product];
  return undefined;
}
