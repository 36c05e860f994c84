import type { Logger } from '../../log/logger.js';
import type { ListenerRecord, Snapshot, Source, SourceInfo } from '../types.js';
import { exeMetadataScript, parseExeMetadataJson, type ExeMetadata } from './exe-metadata.js';
import { FIREWALL_CMDLET_SCRIPT, parseFirewallCmdletJson } from './firewall-cmdlets.js';
import { evaluateFirewall } from './firewall-eval.js';
import { FIREWALL_SCRIPT, parseFirewallJson, type FirewallState } from './firewall-state.js';
import { listenersFromNative, listenersFromNetstat } from './listeners.js';
import { walkSystemProcessInformation } from './ntdll-decode.js';
import { basesFromWin32, WindowsProcessTable, type ProcessBase } from './process-table.js';
import type { WindowsNative } from './native.js';
import { createDefaultWindowsRunner, type WindowsRunner } from './runner.js';
import { parseWin32ProcessJson, PROCESS_LIST_SCRIPT, processDetailsScript } from './win32-process.js';

export interface WindowsSourceOptions {
  logger: Logger;
  runner?: WindowsRunner;
  /** How long a firewall reading stays valid (default 5 min; reading 1,000 rules takes 15-60 s). */
  firewallRefreshMs?: number;
  /** Per PowerShell request (default 120 s; the first owner lookup walks every process). */
  powershellTimeoutMs?: number;
  /** Environment used to expand `%SystemRoot%` in firewall rule programs (default: this process's). */
  env?: Record<string, string>;
  now?: () => Date;
}

export const ELEVATION_SCRIPT =
  '([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)';

const NOT_ELEVATED = 'not running elevated: command lines and users of other users\' processes ' +
  '(process.command_line, process.args, user.name, user.domain) will be missing, and so will the full ' +
  'executable paths of services and protected processes (process.executable); firewall rules that name a program may give "unknown"';

/** Windows collector: IP Helper + NtQuerySystemInformation through koffi, netstat + PowerShell as fallback. */
export function createWindowsSource(opts: WindowsSourceOptions): Source {
  const runner = opts.runner ?? createDefaultWindowsRunner();
  const log = opts.logger.child({ source: 'windows' });
  const now = opts.now ?? (() => new Date());
  const fwRefresh = opts.firewallRefreshMs ?? 5 * 60_000;
  const psTimeout = opts.powershellTimeoutMs ?? 120_000;
  const env = lowerKeys(opts.env ?? process.env);
  const table = new WindowsProcessTable();
  const serviceCache = new Map<string, string | null>();
  /** Executable path (lower case) -> PE name and signature; `null` = asked, nothing known. */
  const exeCache = new Map<string, ExeMetadata | null>();
  let native: WindowsNative | undefined;
  let nativeReason = '';
  let elevated: boolean | undefined;
  let powershellOk = true;
  let firewall: FirewallState | undefined;
  let firewallLoading: Promise<void> | undefined;
  let firewallError: string | undefined;
  let started = false;
  let closed = false;

  const ps = (script: string): Promise<string> => runner.powershell(script, psTimeout);

  const loadFirewall = (): Promise<void> => {
    // FwPolicy2 (COM) first: one call, ~3x faster; the NetSecurity cmdlets when COM is unavailable.
    const read = async () => {
      try {
        return parseFirewallJson(await ps(FIREWALL_SCRIPT), now());
      } catch (com) {
        try {
          return parseFirewallCmdletJson(await ps(FIREWALL_CMDLET_SCRIPT), now());
        } catch (cmdlets) {
          throw new Error(`FwPolicy2: ${(com as Error).message}; NetSecurity cmdlets: ${(cmdlets as Error).message}`, { cause: cmdlets });
        }
      }
    };
    firewallLoading ??= read()
      .then((parsed) => {
        firewall = parsed.state;
        firewallError = parsed.warnings.length > 0 ? parsed.warnings.join('; ') : undefined;
      })
      .catch((err: unknown) => { firewallError = `firewall state could not be read: ${(err as Error).message}`; })
      .finally(() => { firewallLoading = undefined; });
    return firewallLoading;
  };

  async function readProcesses(warnings: string[]): Promise<void> {
    let bases: ProcessBase[];
    let imagePath: ((pid: number) => string | undefined) | undefined;
    let walked: ReturnType<typeof walkSystemProcessInformation> | undefined;
    if (native !== undefined) {
      try {
        const { buffer, base } = native.processTable();
        walked = walkSystemProcessInformation(buffer, base);
      } catch (err) {
        warnings.push(`NtQuerySystemInformation failed (${(err as Error).message}); process table from Win32_Process this time`);
      }
    }
    if (walked !== undefined && native !== undefined) {
      warnings.push(...walked.warnings);
      bases = walked.entries;
      const n = native;
      imagePath = (pid) => n.imagePath(pid);
    } else {
      try {
        const parsed = parseWin32ProcessJson(await ps(PROCESS_LIST_SCRIPT));
        powershellOk = true;
        warnings.push(...parsed.warnings);
        bases = basesFromWin32(parsed.rows);
      } catch (err) {
        // Listeners are still worth reporting; the last known process table stays.
        powershellOk = false;
        warnings.push(`process table unavailable (Win32_Process: ${(err as Error).message}); keeping the last one`);
        return;
      }
    }
    const pending = table.update(bases, imagePath);
    if (pending.length === 0) return;
    try {
      const details = parseWin32ProcessJson(await ps(processDetailsScript(pending)));
      powershellOk = true;
      table.applyDetails(pending, details.rows);
    } catch (err) {
      powershellOk = false;
      warnings.push(`command lines and users for ${pending.length} new processes could not be read: ${(err as Error).message}`);
      table.applyDetails(pending, []);
    }
  }

  /** Original file name and signature for the executables of listener owners, once per path. */
  async function enrichOwners(listeners: ListenerRecord[], warnings: string[]): Promise<void> {
    const owners = new Set(listeners.flatMap((l) => l.owners));
    const missing = new Set<string>();
    for (const pid of owners) {
      const exe = table.get(pid)?.executable;
      if (exe !== undefined && !exeCache.has(exe.toLowerCase())) missing.add(exe);
    }
    if (missing.size > 0) {
      try {
        const found = parseExeMetadataJson(await ps(exeMetadataScript([...missing])));
        for (const p of missing) exeCache.set(p.toLowerCase(), found.get(p.toLowerCase()) ?? null);
      } catch (err) {
        warnings.push(`signatures of ${missing.size} listener executables could not be read: ${(err as Error).message}`);
        for (const p of missing) exeCache.set(p.toLowerCase(), null);
      }
    }
    for (const pid of owners) {
      const rec = table.get(pid);
      const meta = rec?.executable === undefined ? undefined : exeCache.get(rec.executable.toLowerCase());
      if (rec === undefined || meta === undefined || meta === null) continue;
      if (rec.originalFileName === meta.originalFileName && rec.codeSignature === meta.codeSignature) continue;
      table.enrich(pid, meta);
    }
  }

  function annotate(listeners: ListenerRecord[]): void {
    for (const l of listeners) {
      const owner = l.owners[0] === undefined ? undefined : table.get(l.owners[0]);
      const verdict = evaluateFirewall({
        transport: l.transport, address: l.address, port: l.port,
        executable: owner?.executable, processName: owner?.name, serviceName: l.serviceName,
      }, firewall, env);
      if (verdict !== undefined) l.firewall = verdict;
    }
  }

  return {
    async start() {
      if (started) return;
      started = true;
      const load = await runner.loadNative();
      if (load.kind === 'ok') native = load.native;
      else nativeReason = load.reason;
      try {
        elevated = /true/i.test(await ps(ELEVATION_SCRIPT));
      } catch (err) {
        powershellOk = false;
        log.warn('could not tell whether the agent runs elevated', { error: (err as Error).message });
      }
      if (native === undefined) log.warn(`IP Helper via koffi unavailable (${nativeReason}); using netstat -ano and PowerShell`);
      if (elevated === false) log.warn(NOT_ELEVATED);
    },
    info(): SourceInfo {
      const limitations: string[] = [];
      if (native === undefined && started) {
        limitations.push(`IP Helper via koffi unavailable (${nativeReason}): listeners come from netstat -ano, without bind times or owning service names, and the process table from Win32_Process through PowerShell (1-3 s per poll)`);
      }
      if (elevated === false) limitations.push(NOT_ELEVATED);
      if (elevated === undefined && started) limitations.push('elevation unknown (PowerShell did not answer): command lines, users and firewall verdicts may be missing');
      if (!powershellOk) limitations.push('PowerShell is not answering: command lines, users and firewall verdicts are missing');
      if (firewallError !== undefined) limitations.push(firewallError);
      return {
        platform: 'windows',
        listenerPath: native !== undefined ? 'IP Helper GetExtendedTcpTable/GetExtendedUdpTable (OWNER_MODULE) via koffi' : 'netstat -ano (fallback)',
        processPath: native !== undefined
          ? 'NtQuerySystemInformation + QueryFullProcessImageNameW via koffi; Win32_Process (PowerShell) for command lines and users of new processes'
          : 'Win32_Process through a persistent PowerShell (fallback)',
        privileged: elevated === true,
        limitations,
      };
    },
    async poll(): Promise<Snapshot> {
      if (closed) throw new Error('windows source is shut down');
      if (!started) await this.start();
      const warnings: string[] = [];
      await readProcesses(warnings);
      let listeners: ListenerRecord[];
      try {
        if (native === undefined) throw new Error('no native access');
        const n = native;
        listeners = listenersFromNative(n, (pid) => table.get(pid)?.name, serviceCache, warnings);
      } catch (err) {
        if (native !== undefined) warnings.push(`IP Helper failed (${(err as Error).message}); listeners from netstat this time`);
        listeners = listenersFromNetstat(await runner.netstat(), warnings);
      }
      const stale = firewall === undefined || now().getTime() - firewall.readAt.getTime() >= fwRefresh;
      if (firewall === undefined && firewallError === undefined) await loadFirewall();
      else if (stale && firewallLoading === undefined) void loadFirewall();
      if (firewallError !== undefined) warnings.push(firewallError);
      annotate(listeners);
      await enrichOwners(listeners, warnings);
      return { takenAt: now(), listeners, processes: table.snapshot(), warnings };
    },
    async flush() { /* nothing buffered */ },
    async shutdown() {
      if (closed) return;
      closed = true;
      await runner.close();
    },
  };
}

function lowerKeys(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}
