import { execFile } from 'node:child_process';
import type { TableKind } from './iphlp-decode.js';
import type { OwnerModule } from './ntdll-decode.js';
import { PowerShellSession } from './powershell-session.js';

/**
 * The thin layer that touches Windows. Everything it returns is raw (bytes, text); the
 * collector decodes it with pure functions, so tests feed recorded outputs through a fake.
 */
export interface WindowsNative {
  /** Raw OWNER_MODULE table (TCP: TCP_TABLE_OWNER_MODULE_LISTENER; UDP: UDP_TABLE_OWNER_MODULE). */
  table(kind: TableKind): Buffer;
  /** GetOwnerModuleFrom*Entry (basic info) for one row; undefined when Windows refuses. */
  ownerModule(kind: TableKind, row: Buffer): OwnerModule | undefined;
  /** NtQuerySystemInformation(SystemProcessInformation): a copy of the buffer and the address it had. */
  processTable(): { buffer: Buffer; base: bigint };
  /** QueryFullProcessImageNameW (`C:\Windows\System32\svchost.exe`); undefined when access is denied. */
  imagePath(pid: number): string | undefined;
}

export type NativeLoad = { kind: 'ok'; native: WindowsNative } | { kind: 'unavailable'; reason: string };

export interface WindowsRunner {
  /** Binds the FFI once; `unavailable` sends the collector to the netstat + PowerShell fallback. */
  loadNative(): Promise<NativeLoad>;
  /** Raw bytes of `netstat -ano` (OEM code page). */
  netstat(): Promise<Buffer>;
  /** Runs a script in the persistent PowerShell; resolves with its output text. */
  powershell(script: string, timeoutMs: number): Promise<string>;
  /** Ends the PowerShell process; idempotent. */
  close(): Promise<void>;
}

/** The real runner: koffi for Win32 calls, `netstat.exe`, one persistent `powershell.exe`. */
export function createDefaultWindowsRunner(): WindowsRunner {
  const ps = new PowerShellSession();
  return {
    async loadNative() {
      const { loadWindowsNative } = await import('./native-ffi.js');
      return loadWindowsNative();
    },
    netstat() {
      return new Promise((resolve, reject) => {
        execFile('netstat.exe', ['-ano'], { encoding: 'buffer', windowsHide: true, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout) => { if (err !== null) reject(new Error(`netstat -ano failed: ${err.message}`)); else resolve(stdout); });
      });
    },
    powershell: (script, timeoutMs) => ps.run(script, timeoutMs),
    close: () => ps.close(),
  };
}
