import { execFile } from 'node:child_process';
import type { NativeLoad } from './native.js';
import { PowerShellSession } from './powershell-session.js';
import { PortwardenError } from '../../util/errors.js';

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
          (err, stdout) => { if (err !== null) reject(new PortwardenError('COMMAND_FAILED', `netstat -ano failed: ${err.message}`, { retriable: true, cause: err })); else resolve(stdout); });
      });
    },
    powershell: (script, timeoutMs) => ps.run(script, timeoutMs),
    close: () => ps.close(),
  };
}
