import { readFileSync } from 'node:fs';
import { unixMsToFiletime, type TableKind } from '../../../../../agent/sources/windows/iphlp-decode.js';
import { FIREWALL_CMDLET_SCRIPT } from '../../../../../agent/sources/windows/firewall-cmdlets.js';
import { FIREWALL_SCRIPT } from '../../../../../agent/sources/windows/firewall-state.js';
import type { OwnerModule } from '../../../../../agent/sources/windows/ntdll-decode.js';
import type { NativeLoad } from '../../../../../agent/sources/windows/native.js';
import type { WindowsRunner } from '../../../../../agent/sources/windows/runner.js';
import { ELEVATION_SCRIPT } from '../../../../../agent/sources/windows/source.js';
import { PROCESS_LIST_SCRIPT } from '../../../../../agent/sources/windows/win32-process.js';
import { fixture } from '../../../../../testkit/paths.js';
import { buildProcessTable, buildTable, type ProcSpec, type RowSpec } from '../../../../../testkit/windows-buffers.js';

/**
 * A recorded Windows Server: the IP Helper tables and the process table as Windows fills them
 * (documented layouts), plus recorded PowerShell and netstat outputs. The runner is the only
 * fake; everything above it is the real collector.
 */
export const BOOT_MS = Date.parse('2026-11-20T08:00:00.000Z');
export const ft = (offsetMs: number): bigint => unixMsToFiletime(BOOT_MS + offsetMs);

export function recordedProcesses(): ProcSpec[] {
  return [
    { pid: 0, ppid: 0, createTime: 0n, imageName: '' },
    { pid: 4, ppid: 0, createTime: ft(0), imageName: 'System' },
    { pid: 612, ppid: 508, createTime: ft(5000), imageName: 'wininit.exe' },
    { pid: 700, ppid: 612, createTime: ft(5300), imageName: 'services.exe' },
    { pid: 6000, ppid: 700, createTime: ft(8000), imageName: 'MsMpEng.exe' },
    { pid: 1184, ppid: 700, createTime: ft(9000), imageName: 'svchost.exe' },
    { pid: 2208, ppid: 700, createTime: ft(9500), imageName: 'svchost.exe' },
    { pid: 4410, ppid: 4300, createTime: ft(60000), imageName: 'explorer.exe' },
    { pid: 5120, ppid: 4410, createTime: ft(120000), imageName: 'node.exe', sessionId: 1 },
  ];
}

export function recordedTables(): Record<TableKind, RowSpec[]> {
  return {
    tcp4: [
      { address: '0.0.0.0', port: 3389, pid: 1184, createTimestamp: ft(20000) },
      { address: '0.0.0.0', port: 445, pid: 4, createTimestamp: 0n },
      { address: '0.0.0.0', port: 8080, pid: 5120, createTimestamp: ft(121000) },
      { address: '127.0.0.1', port: 9229, pid: 5120, createTimestamp: ft(121500) },
      // The LISTENER class never returns these; the collector must still skip them.
      { address: '10.9.0.2', port: 50123, pid: 5120, state: 5, remotePort: 443 },
    ],
    tcp6: [
      { address: '::', port: 3389, pid: 1184, createTimestamp: ft(20000) },
      { address: 'fe80::1c2d:3e4f:5a6b:7c8d', scopeId: 12, port: 2869, pid: 4 },
    ],
    udp4: [{ address: '0.0.0.0', port: 5353, pid: 2208, createTimestamp: ft(30000) }],
    udp6: [{ address: 'fe80::1c2d:3e4f:5a6b:7c8d', scopeId: 12, port: 1900, pid: 2208, createTimestamp: ft(31000) }],
  };
}

const MODULES: Record<number, OwnerModule> = {
  1184: { moduleName: 'TermService', modulePath: 'C:\\Windows\\System32\\svchost.exe' },
  2208: { moduleName: 'Dnscache', modulePath: 'C:\\Windows\\System32\\svchost.exe' },
  5120: { moduleName: 'node.exe', modulePath: 'C:\\Program Files\\nodejs\\node.exe' },
};

const IMAGE_PATHS: Record<number, string> = {
  612: 'C:\\Windows\\System32\\wininit.exe',
  700: 'C:\\Windows\\System32\\services.exe',
  1184: 'C:\\Windows\\System32\\svchost.exe',
  2208: 'C:\\Windows\\System32\\svchost.exe',
  4410: 'C:\\Windows\\explorer.exe',
  5120: 'C:\\Program Files\\nodejs\\node.exe',
};

const PID_OFFSET: Record<TableKind, number> = { tcp4: 20, tcp6: 52, udp4: 8, udp6: 24 };

export interface RecordedHost {
  runner: WindowsRunner;
  /** Every script the collector sent to PowerShell, in order. */
  scripts: string[];
  ownerModuleCalls: number;
  closed: boolean;
  processes: ProcSpec[];
  tables: Record<TableKind, RowSpec[]>;
  /** Extra detail rows (JSON objects) served for pids not in the recording. */
  extraDetails: Record<string, unknown>[];
  /** Rows of the connection table (TCP_TABLE_OWNER_PID_CONNECTIONS) the next polls see. */
  connections: Record<'tcp4' | 'tcp6', RowSpec[]>;
  /** Makes the native calls throw, as a failing Win32 call would. */
  failNative: boolean;
}

export function recordedHost(o: { native?: boolean; elevated?: boolean; firewall?: 'ok' | 'fail' | 'cmdlets' } = {}): RecordedHost {
  const base = 0x2_0000_0000n;
  const details = JSON.parse(readFileSync(fixture('windows', 'ps-win32-process-details.json'), 'utf8')) as Record<string, unknown>[];
  const host: RecordedHost = {
    scripts: [], ownerModuleCalls: 0, closed: false, processes: recordedProcesses(), tables: recordedTables(), connections: { tcp4: [], tcp6: [] }, extraDetails: [], failNative: false,
    runner: {
      loadNative(): Promise<NativeLoad> {
        if (o.native === false) return Promise.resolve({ kind: 'unavailable', reason: 'koffi could not be loaded (test)' });
        return Promise.resolve({
          kind: 'ok',
          native: {
            table: (kind) => {
              if (host.failNative) throw new Error('GetExtendedTcpTable failed with error 87');
              return buildTable(kind, host.tables[kind]);
            },
            connections: (kind) => buildTable(kind, host.connections[kind], 'pid'),
            ownerModule: (kind, row) => {
              host.ownerModuleCalls++;
              return MODULES[row.readUInt32LE(PID_OFFSET[kind])];
            },
            processTable: () => {
              if (host.failNative) throw new Error('NtQuerySystemInformation failed: 0xc0000022');
              return { buffer: buildProcessTable(host.processes, base), base };
            },
            imagePath: (pid) => IMAGE_PATHS[pid],
          },
        });
      },
      netstat: () => Promise.resolve(readFileSync(fixture('windows', 'netstat-ano-fr-FR-cp850.txt'))),
      powershell(script) {
        host.scripts.push(script);
        if (script === ELEVATION_SCRIPT) return Promise.resolve(o.elevated === false ? 'False' : 'True');
        if (script === FIREWALL_SCRIPT) {
          return o.firewall === 'fail' || o.firewall === 'cmdlets'
            ? Promise.reject(new Error('Access is denied'))
            : Promise.resolve(readFileSync(fixture('windows', 'ps-firewall.json'), 'utf8'));
        }
        if (script === FIREWALL_CMDLET_SCRIPT) {
          return o.firewall === 'fail'
            ? Promise.reject(new Error('Get-NetFirewallRule: Access is denied'))
            : Promise.resolve(readFileSync(fixture('windows', 'ps-firewall-cmdlets.json'), 'utf8'));
        }
        const b64 = /FromBase64String\('([A-Za-z0-9+/=]+)'\)/.exec(script)?.[1];
        if (b64 !== undefined) {
          const asked = new Set((JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as string[]).map((p) => p.toLowerCase()));
          const meta = JSON.parse(readFileSync(fixture('windows', 'ps-exe-metadata.json'), 'utf8')) as { Path: string }[];
          return Promise.resolve(JSON.stringify(meta.filter((m) => asked.has(m.Path.toLowerCase()))));
        }
        if (script === PROCESS_LIST_SCRIPT) return Promise.resolve(readFileSync(fixture('windows', 'ps-win32-process-list.json'), 'utf8'));
        const filter = /-Filter '([^']*)'/.exec(script)?.[1];
        const wanted = filter === undefined ? undefined : new Set([...filter.matchAll(/ProcessId=(\d+)/g)].map((m) => Number(m[1])));
        const rows = [...details, ...host.extraDetails]
          .filter((r) => wanted === undefined || wanted.has(r.ProcessId as number))
          .map((r) => (o.elevated === false && r.Domain !== 'CORP' ? { ...r, CommandLine: '', User: null, Domain: null } : r));
        // ConvertTo-Json prints a single object, not an array, for one row.
        return Promise.resolve(JSON.stringify(rows.length === 1 ? rows[0] : rows));
      },
      close() { host.closed = true; return Promise.resolve(); },
    },
  };
  return host;
}
