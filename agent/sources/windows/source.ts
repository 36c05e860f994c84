import type { Logger } from '../../log/logger.js';
import { PortwardenError, UsageError } from '../../util/errors.js';
import type { ConnectAttempt, ListenerRecord, Snapshot, Source, SourceInfo } from '../types.js';
import { describeMissing } from './ffi-bind.js';
import type { ExeInfoOptions } from '../pe/exe-info.js';
import { DEFAULT_EXE_INFO, ExeEnricher } from './exe-enrich.js';
import { decodeIntegrityLevel, readWorkingDirectory } from './token-decode.js';
import { exeMetadataScript, parseExeMetadataJson, type ExeMetadata } from './exe-metadata.js';
import { evaluateFirewall } from './firewall-eval.js';
import { FirewallReader } from './firewall-reader.js';
import { CIM_TCP_SCRIPT, CIM_UDP_SCRIPT } from './cim-listeners.js';
import { listenersFromCim, listenersFromNative, listenersFromNetstat } from './listeners.js';
import { decodeNetstatOutput, parseNetstat, type NetstatRow } from './netstat-parse.js';
import { connectionsFromNative, connectionsFromNetstat, OutboundTracker, type ConnectionRow, type OutboundOptions } from './outbound.js';
import { walkSystemProcessInformation } from './ntdll-decode.js';
import { basesFromWin32, WindowsProcessTable, type ProcessBase, type ProcessProbe } from './process-table.js';
import type { NativeLoad, WindowsNative } from './native.js';
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
  /**
   * Listener tiers to skip (tests and diagnosis; PORTWARDEN_WINDOWS_DISABLE): `iphelper` (the koffi
   * binding, so the process table comes from Win32_Process too), `netstat`, `powershell`.
   */
  disable?: readonly WindowsTier[];
  /** Which executable hashes to compute and the size cap (config `source.executable_hashes` and `executable_hash_max_size`). */
  exeInfo?: ExeInfoOptions;
  /** How long a poll waits for executables being read before holding their processes (default 1 s). */
  exeWaitMs?: number;
  /** Watch outbound TCP connections (events.connections is not off): loopback, dedupe window, caps. */
  connections?: OutboundOptions;
}

export const WINDOWS_TIERS = ['iphelper', 'netstat', 'powershell'] as const;
export type WindowsTier = (typeof WINDOWS_TIERS)[number];

export const ELEVATION_SCRIPT =
  '([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)';

const NOT_ELEVATED = 'not running elevated: command lines and users of other users\' processes ' +
  '(process.command_line, process.args, user.name, user.domain) will be missing, and so will the full ' +
  'executable paths of services and protected processes (process.executable); firewall rules that name a program may give "unknown"';

/** Windows collector: IP Helper + NtQuerySystemInformation through koffi, netstat + PowerShell as fallback. */
export function createWindowsSource(opts: WindowsSourceOptions): Source {
  return new WindowsSource(opts);
}

class WindowsSource implements Source {
  private readonly runner: WindowsRunner;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly psTimeout: number;
  private readonly env: Record<string, string>;
  private readonly disabled: ReadonlySet<WindowsTier>;
  private readonly table = new WindowsProcessTable();
  private readonly serviceCache = new Map<string, string | null>();
  /** Executable path (lower case) -> PE name and signature; `null` = asked, nothing known. */
  private readonly exeCache = new Map<string, ExeMetadata | null>();
  private readonly firewall: FirewallReader;
  private readonly exe: ExeEnricher;
  /** New processes whose token or working directory Windows refused to show (protected, other users'). */
  private readonly refused = { integrity: 0, cwd: 0 };
  private readonly outbound: OutboundTracker | undefined;
  /** The tier that answered the last listener read, and netstat's rows when it was netstat (parsed once a poll). */
  private tier: { kind: WindowsTier; netstat?: readonly NetstatRow[] } | undefined;
  private readonly lastTables: { tcp4?: Buffer; tcp6?: Buffer } = {};
  private native: WindowsNative | undefined;
  private nativeReason = '';
  private elevated: boolean | undefined;
  private powershellOk = true;
  private started = false;
  private closed = false;

  constructor(opts: WindowsSourceOptions) {
    this.runner = opts.runner ?? createDefaultWindowsRunner();
    this.log = opts.logger.child({ source: 'windows' });
    this.now = opts.now ?? (() => new Date());
    this.psTimeout = opts.powershellTimeoutMs ?? 120_000;
    this.env = lowerKeys(opts.env ?? process.env);
    this.disabled = new Set(opts.disable ?? []);
    this.exe = new ExeEnricher(opts.exeInfo ?? DEFAULT_EXE_INFO, opts.exeWaitMs);
    if (opts.connections !== undefined) this.outbound = new OutboundTracker(opts.connections);
    this.firewall = new FirewallReader((script) => this.ps(script), this.now, opts.firewallRefreshMs ?? 5 * 60_000);
  }

  private ps(script: string): Promise<string> {
    return this.runner.powershell(script, this.psTimeout);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const load: NativeLoad = this.disabled.has('iphelper')
      ? { kind: 'unavailable', reason: 'disabled by PORTWARDEN_WINDOWS_DISABLE' }
      : await this.runner.loadNative();
    if (load.kind === 'ok') this.native = load.native;
    else this.nativeReason = load.reason;
    try {
      this.elevated = /true/i.test(await this.ps(ELEVATION_SCRIPT));
    } catch (err) {
      this.powershellOk = false;
      this.log.warn('could not tell whether the agent runs elevated', { error: (err as Error).message });
    }
    for (const m of this.native?.missing ?? []) this.log.warn(describeMissing(m));
    if (this.native === undefined) this.log.warn(`IP Helper via koffi unavailable (${this.nativeReason}); using netstat -ano and PowerShell`);
    if (this.elevated === false) this.log.warn(NOT_ELEVATED);
  }

  info(): SourceInfo {
    const { native, started, elevated } = this;
    const limitations: string[] = [];
    if (native === undefined && started) {
      const from = this.disabled.has('netstat') ? 'Get-NetTCPConnection/Get-NetUDPEndpoint' : 'netstat -ano';
      limitations.push(`IP Helper via koffi unavailable (${this.nativeReason}): listeners come from ${from}, without bind times or owning service names, and the process table from Win32_Process through PowerShell (1-3 s per poll)`);
    }
    for (const m of native?.missing ?? []) limitations.push(describeMissing(m));
    if (this.disabled.size > 0) limitations.push(`listener tiers disabled by PORTWARDEN_WINDOWS_DISABLE: ${[...this.disabled].join(', ')}`);
    if (elevated === false) limitations.push(NOT_ELEVATED);
    if (elevated === undefined && started) limitations.push('elevation unknown (PowerShell did not answer): command lines, users and firewall verdicts may be missing');
    if (!this.powershellOk) limitations.push('PowerShell is not answering: command lines, users and firewall verdicts are missing');
    if (this.firewall.error !== undefined) limitations.push(this.firewall.error);
    const { integrity, cwd } = this.refused;
    if (integrity > 0) limitations.push(`token integrity level refused ${integrity} times so far (access denied: protected processes, or other users' when not elevated; asked again once); process.Ext.token.integrity_level_name is absent for those processes`);
    if (cwd > 0) limitations.push(`working directory refused ${cwd} times so far (access denied, or a process still starting: asked again once); process.working_directory is absent for those processes`);
    limitations.push(...this.outboundLimits());
    const exe = this.exe.stats();
    if (exe.failed > 0) limitations.push(`${exe.failed} executables could not be fully read (not PE files, access denied, or over source.executable_hash_max_size: ${exe.tooLargeToHash}); their process.pe.* or process.hash.* fields are partly absent`);
    return {
      platform: 'windows',
      listenerPath: native !== undefined ? 'IP Helper GetExtendedTcpTable/GetExtendedUdpTable (OWNER_MODULE) via koffi'
        : this.disabled.has('netstat') ? 'Get-NetTCPConnection/Get-NetUDPEndpoint through PowerShell (last fallback)' : 'netstat -ano (fallback)',
      processPath: native !== undefined
        ? 'NtQuerySystemInformation + QueryFullProcessImageNameW via koffi; Win32_Process (PowerShell) for command lines and users of new processes'
        : 'Win32_Process through a persistent PowerShell (fallback)',
      privileged: elevated === true,
      limitations,
    };
  }

  async poll(): Promise<Snapshot> {
    if (this.closed) throw new PortwardenError('SOURCE_STOPPED', 'windows source is shut down');
    if (!this.started) await this.start();
    const warnings: string[] = [];
    await this.readProcesses(warnings);
    const listeners = await this.readListeners(warnings);
    await this.firewall.refresh();
    if (this.firewall.error !== undefined) warnings.push(this.firewall.error);
    const connects = this.readConnections(listeners, warnings);
    this.annotate(listeners);
    await this.enrichOwners(listeners, warnings);
    return { takenAt: this.now(), listeners, processes: this.table.snapshot(), warnings, ...(connects === undefined ? {} : { connects }) };
  }

  /** New outbound connections from the tier that gave the listeners (the PowerShell tier gives none). */
  private readConnections(listeners: readonly ListenerRecord[], warnings: string[]): ConnectAttempt[] | undefined {
    const { outbound, tier, native } = this;
    if (outbound === undefined) return undefined;
    let rows: ConnectionRow[] | undefined;
    try {
      // Connections waiting for their process are looked at again even when the table is the same.
      if (tier?.kind === 'iphelper' && native !== undefined) rows = connectionsFromNative(native, warnings, this.lastTables, outbound.pending);
      else if (tier?.netstat !== undefined) rows = connectionsFromNetstat(tier.netstat);
      else return [];
    } catch (err) {
      // What is tracked stays: the next read that works tells new from seen as before.
      warnings.push(`outbound connections could not be read this poll: ${(err as Error).message}`);
      return [];
    }
    // The same table bytes as at the last poll (the common case): nothing is new.
    if (rows === undefined) return [];
    const listening = new Set(listeners.filter((l) => l.transport === 'tcp').flatMap((l) => l.owners.map((pid) => `${pid}|${l.port}`)));
    return outbound.update(rows, listening, (pid) => this.table.get(pid), this.now().getTime(), warnings);
  }

  connectionStats(): { reported: number; suppressed: number; loopback: number } | undefined {
    const s = this.outbound?.stats();
    return s === undefined ? undefined : { reported: s.reported, suppressed: s.suppressed, loopback: s.loopback };
  }

  private outboundLimits(): string[] {
    const s = this.outbound?.stats();
    if (s === undefined || !this.started) return [];
    const out = this.native === undefined && this.disabled.has('netstat')
      ? ['outbound connections are not reported while listeners come from Get-NetTCPConnection (the last tier)']
      : [`outbound connections are polled every interval from ${this.native !== undefined ? 'the IP Helper connection table' : 'netstat -ano'}: a connection opened and closed between two polls is not reported, nor is one already open at the agent's first poll`];
    if (s.overCap > 0) out.push(`outbound connections: ${s.overCap} polls found more open connections than the tracking cap; new ones beyond it were not reported`);
    return out;
  }

  /** IP Helper, else netstat -ano, else the NetTCPIP cmdlets; each failure is said. */
  private async readListeners(warnings: string[]): Promise<ListenerRecord[]> {
    const failed: string[] = [];
    const skip = (tier: WindowsTier, what: string): boolean => {
      if (this.disabled.has(tier)) failed.push(`${what}: disabled by PORTWARDEN_WINDOWS_DISABLE`);
      return this.disabled.has(tier);
    };
    if (this.native === undefined) failed.push(`IP Helper: ${this.nativeReason}`);
    else {
      try {
        const found = listenersFromNative(this.native, (pid) => this.table.get(pid)?.name, this.serviceCache, warnings);
        this.tier = { kind: 'iphelper' };
        return found;
      } catch (err) {
        // A missing export was said once at start (and is in the limitations), not every poll.
        if (!isMissingExport(err)) warnings.push(`IP Helper failed (${(err as Error).message}); listeners from netstat this time`);
        failed.push(`IP Helper: ${(err as Error).message}`);
      }
    }
    if (!skip('netstat', 'netstat -ano')) {
      try {
        const parsed = parseNetstat(decodeNetstatOutput(await this.runner.netstat()));
        this.tier = { kind: 'netstat', netstat: parsed.rows };
        return listenersFromNetstat(parsed, warnings);
      } catch (err) {
        failed.push(`netstat -ano: ${(err as Error).message}`);
      }
    }
    if (!skip('powershell', 'Get-NetTCPConnection/Get-NetUDPEndpoint')) {
      try {
        const tcp = listenersFromCim(await this.ps(CIM_TCP_SCRIPT), 'tcp', warnings);
        const udp = listenersFromCim(await this.ps(CIM_UDP_SCRIPT), 'udp', warnings);
        warnings.push(`listeners from Get-NetTCPConnection/Get-NetUDPEndpoint this time (${failed.join('; ')})`);
        this.tier = { kind: 'powershell' };
        return [...tcp, ...udp];
      } catch (err) {
        failed.push(`Get-NetTCPConnection/Get-NetUDPEndpoint: ${(err as Error).message}`);
      }
    }
    throw new PortwardenError('COMMAND_FAILED', `no listener source answered: ${failed.join('; ')}`, { retriable: true });
  }

  async flush(): Promise<void> { /* nothing buffered */ }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runner.close();
  }

  private async readProcesses(warnings: string[]): Promise<void> {
    const { native, table } = this;
    let bases: ProcessBase[];
    let imagePath: ((pid: number) => string | undefined) | undefined;
    let probe: ((pid: number, again: boolean) => ProcessProbe) | undefined;
    let walked: ReturnType<typeof walkSystemProcessInformation> | undefined;
    if (native !== undefined) {
      try {
        const { buffer, base } = native.processTable();
        walked = walkSystemProcessInformation(buffer, base);
      } catch (err) {
        if (!isMissingExport(err)) warnings.push(`NtQuerySystemInformation failed (${(err as Error).message}); process table from Win32_Process this time`);
      }
    }
    if (walked !== undefined && native !== undefined) {
      warnings.push(...walked.warnings);
      bases = walked.entries;
      imagePath = (pid) => native.imagePath(pid);
      probe = (pid, again) => probeProcess(native, pid, again ? this.refused : undefined);
    } else {
      try {
        const parsed = parseWin32ProcessJson(await this.ps(PROCESS_LIST_SCRIPT));
        this.powershellOk = true;
        warnings.push(...parsed.warnings);
        bases = basesFromWin32(parsed.rows);
      } catch (err) {
        // Listeners are still worth reporting; the last known process table stays.
        this.powershellOk = false;
        warnings.push(`process table unavailable (Win32_Process: ${(err as Error).message}); keeping the last one`);
        return;
      }
    }
    const pending = table.update(bases, imagePath, probe);
    // Executables are read while PowerShell answers; what Win32_Process adds (paths without FFI) after.
    this.exe.start(table);
    if (pending.length > 0) {
      try {
        const details = parseWin32ProcessJson(await this.ps(processDetailsScript(pending)));
        this.powershellOk = true;
        table.applyDetails(pending, details.rows);
      } catch (err) {
        this.powershellOk = false;
        warnings.push(`command lines and users for ${pending.length} new processes could not be read: ${(err as Error).message}`);
        table.applyDetails(pending, []);
      }
      this.exe.start(table);
    }
    await this.exe.settle(table);
  }

  /** Original file name and signature for the executables of listener owners, once per path. */
  private async enrichOwners(listeners: ListenerRecord[], warnings: string[]): Promise<void> {
    const { table, exeCache } = this;
    const owners = new Set(listeners.flatMap((l) => l.owners));
    const missing = new Set<string>();
    for (const pid of owners) {
      const exe = table.get(pid)?.executable;
      if (exe !== undefined && !exeCache.has(exe.toLowerCase())) missing.add(exe);
    }
    if (missing.size > 0) {
      try {
        const found = parseExeMetadataJson(await this.ps(exeMetadataScript([...missing])));
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
      if (rec.codeSignature === meta.codeSignature) continue;
      // The PE reader gives the original file name; PowerShell only what it alone reads (the signature).
      table.enrich(pid, { ...(meta.codeSignature === undefined ? {} : { codeSignature: meta.codeSignature }),
        ...(rec.originalFileName === undefined && meta.originalFileName !== undefined ? { originalFileName: meta.originalFileName } : {}) });
    }
  }

  private annotate(listeners: ListenerRecord[]): void {
    for (const l of listeners) {
      const owner = l.owners[0] === undefined ? undefined : this.table.get(l.owners[0]);
      const verdict = evaluateFirewall({
        transport: l.transport, address: l.address, port: l.port,
        executable: owner?.executable, processName: owner?.name, serviceName: l.serviceName,
      }, this.firewall.state, this.env);
      if (verdict !== undefined) l.firewall = verdict;
    }
  }
}

/** PORTWARDEN_WINDOWS_DISABLE (`iphelper,netstat`): the tiers to skip; an unknown name is an error. */
export function parseDisabledTiers(text: string | undefined): WindowsTier[] {
  const names = (text ?? '').split(',').map((n) => n.trim().toLowerCase()).filter((n) => n.length > 0);
  for (const n of names) {
    if (!(WINDOWS_TIERS as readonly string[]).includes(n)) {
      throw new UsageError(`PORTWARDEN_WINDOWS_DISABLE: unknown tier "${n}" (expected a comma-separated list of ${WINDOWS_TIERS.join(', ')})`);
    }
  }
  return names as WindowsTier[];
}

const POINTER_SIZE = process.arch === 'ia32' || process.arch === 'arm' ? 4 : 8;

/**
 * Integrity level and working directory of one new process (each absent where Windows refuses);
 * `refused` counts what is still refused when asked again.
 */
function probeProcess(native: WindowsNative, pid: number, refused?: { integrity: number; cwd: number }): ProcessProbe {
  const out: ProcessProbe = {};
  if (native.tokenIntegrity !== undefined) {
    const label = native.tokenIntegrity(pid);
    const level = label === undefined ? undefined : decodeIntegrityLevel(label, POINTER_SIZE);
    if (level !== undefined) out.integrityLevel = level;
    else {
      if (refused !== undefined) refused.integrity++;
      out.refused = true;
    }
  }
  // The PEB walk knows the 64-bit layouts only (x64 and arm64 agents); a 32-bit agent leaves it out.
  if (native.processMemory !== undefined && POINTER_SIZE === 8) {
    const cwd = native.processMemory(pid, readWorkingDirectory);
    if (cwd !== undefined) out.workingDirectory = cwd;
    else {
      if (refused !== undefined) refused.cwd++;
      out.refused = true;
    }
  }
  return out;
}

function isMissingExport(err: unknown): boolean {
  return err instanceof PortwardenError && err.code === 'WIN32_EXPORT_MISSING';
}

function lowerKeys(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}
