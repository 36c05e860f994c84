import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { PortwardenError } from '../../util/errors.js';

/**
 * One long-lived `powershell.exe -Command -` (cold start costs ~0.6 s, so it is started once).
 * Each request is one stdin line carrying the script base64-encoded (no quoting of data into
 * command text), and each reply ends with a per-session marker line. Requests run one at a
 * time; a request that times out kills the process, the next one starts a fresh one.
 */
export const ERROR_PREFIX = 'PORTWARDEN-ERROR: ';
/** Suffix of the line that opens a reply: whatever the host printed before it (prompts) is dropped. */
export const BEGIN = ':BEGIN';
/** Suffix of the line that closes a reply. */
export const END = ':END';

/** The stdin line for one request. */
export function encodeRequest(script: string, marker: string): string {
  const b64 = Buffer.from(script, 'utf8').toString('base64');
  return [
    '& { try { $__sb = [scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(',
    `'${b64}'`,
    `))); $__r = (& $__sb) -join "\`n"; [Console]::Out.Write("\`n${marker}${BEGIN}\`n" + $__r) }`,
    ` catch { [Console]::Out.Write("\`n${marker}${BEGIN}\`n" + '${ERROR_PREFIX}' + $_.Exception.Message) };`,
    ` [Console]::Out.Write("\`n${marker}${END}\`n"); [Console]::Out.Flush() }\n`,
  ].join('');
}

/**
 * Splits a byte stream into replies: each is opened by a `<marker>:BEGIN` line and ended by a
 * `<marker>:END` line (CRLF tolerated); text outside (a host prompt, a stray banner) is ignored.
 */
export class FrameReader {
  private buf = '';
  constructor(private readonly marker: string) {}

  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    for (;;) {
      const i = this.buf.indexOf(`${this.marker}${END}`);
      if (i < 0) break;
      let end = i + this.marker.length + END.length;
      // Wait for the newline that always follows the marker, so it is not taken as the next reply.
      if (end >= this.buf.length) break;
      if (this.buf[end] === '\r') {
        if (end + 1 >= this.buf.length) break;
        end++;
      }
      if (this.buf[end] === '\n') end++;
      let reply = this.buf.slice(0, i);
      const open = reply.lastIndexOf(`${this.marker}${BEGIN}`);
      if (open >= 0) reply = reply.slice(open + this.marker.length + BEGIN.length).replace(/^\r?\n/, '');
      out.push(reply.replace(/\r?\n$/, ''));
      this.buf = this.buf.slice(end);
    }
    return out;
  }
}

interface Pending {
  script: string;
  timeoutMs: number;
  resolve: (v: string) => void;
  reject: (e: Error) => void;
}

export interface PowerShellOptions {
  command?: string;
  args?: string[];
}

export class PowerShellSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private marker = '';
  private readonly queue: Pending[] = [];
  private busy = false;
  private closed = false;
  private current: ((reply: string | Error) => void) | undefined;

  constructor(private readonly opts: PowerShellOptions = {}) {}

  run(script: string, timeoutMs: number): Promise<string> {
    if (this.closed) return Promise.reject(new PortwardenError('POWERSHELL_FAILED', 'PowerShell session is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ script, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child !== undefined) return this.child;
    this.marker = `PORTWARDEN-REPLY-${randomUUID()}`;
    const reader = new FrameReader(this.marker);
    const child = spawn(this.opts.command ?? 'powershell.exe',
      // The flags systeminformation's persistent PowerShell has used in the field for years.
      this.opts.args ?? ['-NoProfile', '-NoLogo', '-InputFormat', 'Text', '-NoExit', '-Command', '-'],
      { windowsHide: true, stdio: 'pipe' });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { for (const r of reader.push(d)) this.current?.(r); });
    child.stderr.resume();
    child.stdin.on('error', () => undefined);
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.current?.(new PortwardenError('POWERSHELL_FAILED', `PowerShell exited (${why})`, { retriable: true }));
    };
    child.on('error', (e) => { gone(e.message); });
    child.on('exit', (code, signal) => { gone(`code ${code ?? 'none'}, signal ${signal ?? 'none'}`); });
    child.stdin.write(encodeRequest('[Console]::OutputEncoding = [Text.Encoding]::UTF8; $global:ProgressPreference = "SilentlyContinue"', this.marker));
    this.child = child;
    // The first reply is the set-up request's; skip it.
    this.current = () => { this.current = undefined; };
    return child;
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.busy = true;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = this.ensure();
    } catch (err) {
      this.busy = false;
      next.reject(err as Error);
      this.pump();
      return;
    }
    const setup = this.current;
    const timer = setTimeout(() => { finish(new PortwardenError('POWERSHELL_FAILED', `PowerShell timed out after ${next.timeoutMs} ms`, { retriable: true })); this.kill(); }, next.timeoutMs);
    timer.unref();
    const finish = (reply: string | Error) => {
      clearTimeout(timer);
      this.current = undefined;
      this.busy = false;
      if (reply instanceof Error) next.reject(reply);
      else if (reply.startsWith(ERROR_PREFIX)) next.reject(new PortwardenError('POWERSHELL_FAILED', reply.slice(ERROR_PREFIX.length).trim()));
      else next.resolve(reply);
      this.pump();
    };
    this.current = setup === undefined ? finish : (r) => {
      if (r instanceof Error) { finish(r); return; }
      this.current = finish;
    };
    child.stdin.write(encodeRequest(next.script, this.marker));
  }

  private kill(): void {
    const c = this.child;
    this.child = undefined;
    if (c !== undefined && c.exitCode === null) c.kill();
  }

  /** Idempotent; rejects queued requests and ends the process. */
  close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new PortwardenError('POWERSHELL_FAILED', 'PowerShell session closed'));
    this.current?.(new PortwardenError('POWERSHELL_FAILED', 'PowerShell session closed'));
    const c = this.child;
    this.kill();
    if (c === undefined || c.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 2000);
      t.unref();
      c.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }
}
