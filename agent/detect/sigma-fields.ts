/**
 * Sigma field names (Sysmon's, as SigmaHQ writes them) to the ECS fields portwarden's events carry,
 * as pySigma's ECS pipelines (pySigma-backend-elasticsearch `ecs_windows`) map them, and which of
 * those fields the agent fills on each OS. A rule loads only when every field it names is filled
 * for its log source's product: a rule on a field the agent never fills could never fire.
 */
import { F } from '../ecs/fields.js';
import type { OsType } from '../util/os.js';

export type SigmaCategory = 'process_creation' | 'network_connection';
export const SIGMA_CATEGORIES: readonly SigmaCategory[] = ['process_creation', 'network_connection'];

/** One Sigma field: its ECS field and, for fields whose values differ, how a value translates. */
export interface SigmaField {
  ecs: string;
  /** Sigma value -> ECS value (Initiated 'true' -> network.direction 'egress'). */
  value?: (v: string) => string | undefined;
  /** The ECS field whose filling makes `ecs` available, when `ecs` is derived (matcher pseudo-field). */
  filled?: string;
}

const PROCESS: Readonly<Record<string, SigmaField>> = {
  Image: { ecs: F.processExecutable },
  ParentImage: { ecs: F.processParentExecutable },
  CommandLine: { ecs: F.processCommandLine },
  ParentCommandLine: { ecs: F.processParentCommandLine },
  OriginalFileName: { ecs: F.processPeOriginalFileName },
  Description: { ecs: F.processPeDescription },
  Product: { ecs: F.processPeProduct },
  Company: { ecs: F.processPeCompany },
  FileVersion: { ecs: F.processPeFileVersion },
  ProcessId: { ecs: F.processPid },
  ParentProcessId: { ecs: F.processParentPid },
  ProcessGuid: { ecs: F.processEntityId },
  ParentProcessGuid: { ecs: F.processParentEntityId },
  CurrentDirectory: { ecs: F.processWorkingDirectory },
  // Sysmon writes accounts as DOMAIN\name (NT AUTHORITY\SYSTEM; rules match 'AUTHORI', '\NETWORK
  // SERVICE'): the matcher's qualified.* form of the ECS name and domain (name alone without a domain).
  User: { ecs: 'qualified.user.name', filled: F.userName },
  ParentUser: { ecs: 'qualified.process.parent.user.name', filled: F.processParentUserName },
  // Not Sysmon's (some EDRs'): the parent's parent, the second entry of the lineage the agent keeps.
  GrandParentImage: { ecs: 'portwarden.lineage.1.executable', filled: F.processParentExecutable },
  IntegrityLevel: { ecs: F.processIntegrityLevel },
  LogonId: { ecs: 'winlog.event_data.LogonId' },
};

const bool = (yes: string, no: string) => (v: string): string | undefined => (v.toLowerCase() === 'true' ? yes : v.toLowerCase() === 'false' ? no : undefined);

// Sysmon's event 3 names the process by Image, ProcessId and User only; portwarden's connection
// events carry the whole process block (command line, parent, PE info), so rules may use those too.
const NETWORK: Readonly<Record<string, SigmaField>> = {
  ...PROCESS,
  DestinationIp: { ecs: F.destinationIp },
  DestinationPort: { ecs: F.destinationPort },
  DestinationHostname: { ecs: F.destinationDomain },
  SourceIp: { ecs: F.sourceIp },
  SourcePort: { ecs: F.sourcePort },
  SourceHostname: { ecs: F.sourceDomain },
  Protocol: { ecs: F.networkTransport },
  Initiated: { ecs: F.networkDirection, value: bool('egress', 'ingress') },
  SourceIsIpv6: { ecs: F.networkType, value: bool('ipv6', 'ipv4') },
  DestinationIsIpv6: { ecs: F.networkType, value: bool('ipv6', 'ipv4') },
};

export const SIGMA_FIELDS: Readonly<Record<SigmaCategory, Readonly<Record<string, SigmaField>>>> = {
  process_creation: PROCESS,
  network_connection: NETWORK,
};

/**
 * Keyword (field-less) items: Sigma looks for them anywhere in the event; here, in the event's text
 * fields that are filled on the rule's OS (a substring, without case, as Sigma's keywords).
 */
export const KEYWORD_FIELDS: Readonly<Record<SigmaCategory, readonly string[]>> = {
  process_creation: [F.processExecutable, F.processCommandLine, F.processParentExecutable, F.processParentCommandLine,
    F.processPeOriginalFileName, F.processWorkingDirectory, 'qualified.user.name'],
  network_connection: [F.processExecutable, F.processCommandLine, 'qualified.user.name', F.destinationIp, F.destinationDomain, F.sourceIp],
};

/** Sigma's `Hashes` (`SHA256=...,MD5=...`): each algorithm is its own ECS field. */
export const HASH_FIELDS: Readonly<Record<string, string>> = {
  MD5: F.processHashMd5,
  SHA1: F.processHashSha1,
  SHA256: F.processHashSha256,
  IMPHASH: F.processPeImphash,
};

const PROCESS_COMMON = [
  F.processExecutable, F.processCommandLine, F.processParentExecutable, F.processParentCommandLine,
  F.processPid, F.processParentPid, F.processEntityId, F.processParentEntityId, F.userName, F.processParentUserName,
];
const NETWORK_COMMON = [F.destinationIp, F.destinationPort, F.sourceIp, F.sourcePort, F.networkTransport, F.networkDirection, F.networkType];

/**
 * What the agent fills, per OS (a rule on anything else could never fire, so it does not load).
 * Linux: the process reader and the real-time source (working directory from /proc). Windows: the
 * process table, the executable's PE version strings, imphash and hashes (agent/sources/pe/), and
 * the token integrity level and working directory (native-ffi.ts).
 * macOS: ps(1)'s view. Connection fields: connection events (the agent's own connection_attempted:
 * Linux eBPF, source.port when bound; Windows, a poll of the connection table; else replayed or forwarded).
 */
export const FILLED: Readonly<Record<OsType, ReadonlySet<string>>> = {
  linux: new Set([...PROCESS_COMMON, ...NETWORK_COMMON, F.processWorkingDirectory]),
  windows: new Set([...PROCESS_COMMON, ...NETWORK_COMMON, F.processWorkingDirectory, F.processIntegrityLevel,
    F.processPeOriginalFileName, F.processPeDescription, F.processPeProduct, F.processPeCompany, F.processPeFileVersion,
    F.processPeImphash, F.processHashMd5, F.processHashSha1, F.processHashSha256]),
  macos: new Set([...PROCESS_COMMON, ...NETWORK_COMMON]),
};

/** Why the agent leaves a field empty: the `rules check` reason for rules that need it. */
export const NOT_FILLED_WHY: Readonly<Record<string, string>> = {
  [F.processIntegrityLevel]: 'token integrity levels are read on Windows only',
  'winlog.event_data.LogonId': 'logon sessions are not collected',
  [F.destinationDomain]: 'connection peers are not resolved to host names',
  [F.sourceDomain]: 'connection peers are not resolved to host names',
  [F.processPeImphash]: 'import hashes are computed for Windows (PE) executables only',
  [F.processWorkingDirectory]: 'the working directory is read on Linux and Windows only',
  [F.processPeDescription]: 'PE version info is read on Windows only',
  [F.processPeProduct]: 'PE version info is read on Windows only',
  [F.processPeCompany]: 'PE version info is read on Windows only',
  [F.processPeFileVersion]: 'PE version info is read on Windows only',
  [F.processHashMd5]: 'executable hashes are computed on Windows only',
  [F.processHashSha1]: 'executable hashes are computed on Windows only',
  [F.processHashSha256]: 'executable hashes are computed on Windows only',
  [F.processPeOriginalFileName]: 'PE version info is read on Windows only',
};

/** The OSes a product names (`windows`, `linux`, `macos`); undefined for unknown products. */
export function productOs(product: unknown): OsType[] | undefined {
  if (product === undefined || product === null) return ['linux', 'windows', 'macos'];
  if (product === 'windows' || product === 'linux' || product === 'macos') return [product];
  return undefined;
}
