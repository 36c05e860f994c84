import { filetimeToIso } from './iphlp-decode.js';
import { splitCommandLine } from './powershell-json.js';
import { sameInstance, type Win32ProcessRow } from './win32-process.js';
import type { ProcessRecord } from '../types.js';

/** What the native layer reads of one new process besides its image path. */
export type ProcessProbe = Partial<Pick<ProcessRecord, 'integrityLevel' | 'workingDirectory'>> & {
  /** Something it asked Windows for was refused (a process still starting, or access denied). */
  refused?: true;
};

/** What executable enrichment adds to a record. */
export type ExeFields = Partial<Pick<ProcessRecord, 'originalFileName' | 'codeSignature' | 'pe' | 'md5' | 'sha1' | 'sha256'>>;

/** What every process-table path yields per process before details. */
export interface ProcessBase {
  pid: number;
  ppid: number;
  /** Creation FILETIME; 0n when Windows gives none (idle process). */
  createTime: bigint;
  imageName: string;
  executable?: string | undefined;
  commandLine?: string | undefined;
}

/**
 * The live Windows process table between polls. A record is reused (same object) while its
 * (pid, creation FILETIME) is unchanged, so a reused pid becomes a new record; command lines and
 * owners are asked for new instances only, once each.
 */
export class WindowsProcessTable {
  private records = new Map<number, ProcessRecord>();
  private readonly needDetails = new Set<string>();
  /**
   * Pids whose image path, integrity level or working directory could not be read at first sight (a
   * process caught while Windows, or wine, is still setting it up: its PEB not yet written): held
   * one poll and asked again once.
   */
  private readonly retry = new Set<number>();

  /** Replaces the table from a fresh enumeration; returns the pids that still need details. */
  update(entries: readonly ProcessBase[], imagePath?: (pid: number) => string | undefined, probe?: (pid: number, again: boolean) => ProcessProbe): number[] {
    const next = new Map<number, ProcessRecord>();
    const bootFt = entries.reduce((min, e) => (e.createTime > 0n && (min === 0n || e.createTime < min) ? e.createTime : min), 0n);
    for (const e of entries) {
      const startKey = e.createTime.toString();
      const old = this.records.get(e.pid);
      if (old?.startKey === startKey) {
        next.set(e.pid, this.retry.delete(e.pid) ? retried(old, imagePath, probe) : old);
        continue;
      }
      this.retry.delete(e.pid);
      const rec: ProcessRecord = {
        pid: e.pid,
        ppid: e.ppid,
        startKey,
        start: filetimeToIso(e.createTime > 0n ? e.createTime : bootFt) ?? new Date(0).toISOString(),
        name: e.imageName.length > 0 ? e.imageName : e.pid === 0 ? 'System Idle Process' : `pid ${e.pid}`,
        netns: 'host',
      };
      const exe = e.executable ?? (e.pid > 4 ? imagePath?.(e.pid) : undefined);
      if (exe !== undefined) rec.executable = exe;
      let refused = false;
      if (e.pid > 4 && probe !== undefined) {
        const got = probe(e.pid, false);
        if (got.integrityLevel !== undefined) rec.integrityLevel = got.integrityLevel;
        if (got.workingDirectory !== undefined) rec.workingDirectory = got.workingDirectory;
        refused = got.refused === true;
      }
      if (e.pid > 4 && ((exe === undefined && imagePath !== undefined) || refused)) {
        rec.detailsPending = true;
        this.retry.add(e.pid);
      }
      if (e.commandLine !== undefined) {
        rec.commandLine = e.commandLine;
        rec.args = splitCommandLine(e.commandLine);
      }
      next.set(e.pid, rec);
      // The idle process and System have no command line or owner worth a WMI round trip.
      if (e.pid > 4) this.needDetails.add(`${e.pid}/${startKey}`);
    }
    for (const key of this.needDetails) {
      const pid = Number(key.split('/')[0]);
      if (next.get(pid)?.startKey !== key.split('/')[1]) this.needDetails.delete(key);
    }
    for (const pid of this.retry) if (!next.has(pid)) this.retry.delete(pid);
    this.records = next;
    return [...this.needDetails].map((k) => Number(k.split('/')[0]));
  }

  /** Merges Win32_Process details into the matching instances; asked-for pids are never asked again. */
  applyDetails(asked: readonly number[], rows: readonly Win32ProcessRow[]): void {
    const byPid = new Map(rows.map((r) => [r.pid, r]));
    for (const pid of asked) {
      const rec = this.records.get(pid);
      if (rec === undefined) continue;
      this.needDetails.delete(`${pid}/${rec.startKey}`);
      const row = byPid.get(pid);
      if (row === undefined || !sameInstance(row, pid, BigInt(rec.startKey))) continue;
      const merged: ProcessRecord = { ...rec };
      if (merged.executable === undefined && row.executable !== undefined) merged.executable = row.executable;
      if (row.commandLine !== undefined) {
        merged.commandLine = row.commandLine;
        merged.args = splitCommandLine(row.commandLine);
      }
      if (row.user !== undefined) merged.userName = row.user;
      if (row.domain !== undefined) merged.userDomain = row.domain;
      this.records.set(pid, merged);
    }
  }

  /** Replaces a live record with extra fields (a new object, so consumers see the change). */
  enrich(pid: number, fields: ExeFields, complete = false): void {
    const rec = this.records.get(pid);
    if (rec === undefined) return;
    const next: ProcessRecord = { ...rec };
    for (const [k, v] of Object.entries(fields) as [string, unknown][]) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
    // A record still to be asked again stays held until then.
    if (complete && !this.retry.has(pid)) delete next.detailsPending;
    this.records.set(pid, next);
  }

  /** Holds a new record's events until its executable is read (see ProcessRecord.detailsPending). */
  markPending(pid: number): void {
    const rec = this.records.get(pid);
    if (rec === undefined || rec.detailsPending === true) return;
    this.records.set(pid, { ...rec, detailsPending: true });
  }

  snapshot(): Map<number, ProcessRecord> {
    return new Map(this.records);
  }

  get(pid: number): ProcessRecord | undefined {
    return this.records.get(pid);
  }
}

/** A record held for its image path, asked again: completed with whatever Windows gives now. */
function retried(old: ProcessRecord, imagePath?: (pid: number) => string | undefined, probe?: (pid: number, again: boolean) => ProcessProbe): ProcessRecord {
  const rec: ProcessRecord = { ...old };
  delete rec.detailsPending;
  if (rec.executable === undefined) {
    const exe = imagePath?.(rec.pid);
    if (exe !== undefined) rec.executable = exe;
  }
  if (probe !== undefined && (rec.integrityLevel === undefined || rec.workingDirectory === undefined)) {
    const got = probe(rec.pid, true);
    if (rec.integrityLevel === undefined && got.integrityLevel !== undefined) rec.integrityLevel = got.integrityLevel;
    if (rec.workingDirectory === undefined && got.workingDirectory !== undefined) rec.workingDirectory = got.workingDirectory;
  }
  return rec;
}

/** Base entries from Win32_Process rows (the no-FFI path). */
export function basesFromWin32(rows: readonly Win32ProcessRow[]): ProcessBase[] {
  return rows.map((r) => ({
    pid: r.pid,
    ppid: r.ppid ?? 0,
    createTime: r.created ?? 0n,
    imageName: r.name ?? '',
    executable: r.executable,
    commandLine: r.commandLine,
  }));
}
