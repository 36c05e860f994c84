import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cliPath } from '../../testkit/paths.js';
import { waitFor } from './wait.js';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Pids of live processes whose command line contains every one of `parts`. */
function pidsWith(parts: readonly string[]): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (parts.every((p) => argv.includes(p))) out.push(Number(name));
  }
  return out;
}

/** True once `pid` has exited (a zombie not yet reaped counts as exited). */
function gone(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z'); } catch { return true; }
}

export interface PtyRun {
  /** Everything the terminal got so far. */
  readonly out: () => string;
  /**
   * Ends the run like Ctrl-C would and resolves once the CLI itself has exited: `script` puts it in a
   * session of its own, so `script` exiting does not mean the agent has finished its shutdown writes.
   */
  readonly stop: () => Promise<void>;
}

/** Runs the CLI with `args` on a pseudo-terminal (util-linux `script`). */
export function cliOnPty(args: readonly string[], encoding: BufferEncoding = 'utf8'): PtyRun {
  const argv = [process.execPath, cliPath, ...args];
  const proc = spawn('script', ['-qfec', argv.map(shellQuote).join(' '), '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => { out += b.toString(encoding); });
  const exited = new Promise<void>((r) => proc.once('exit', () => { r(); }));
  return {
    out: () => out,
    stop: async () => {
      const cli = pidsWith(argv);
      for (const pid of cli) { try { process.kill(pid, 'SIGINT'); } catch { /* already gone */ } }
      // `script` ends when the CLI does; it is told to end only if the CLI was not found or hangs.
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => { r(false); }, cli.length > 0 ? 30_000 : 0); })]);
      clearTimeout(timer);
      if (!ended && proc.exitCode === null && proc.pid !== undefined) { try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* already gone */ } }
      await exited;
      await waitFor('the CLI to exit', () => cli.every(gone), 30_000, 50);
    },
  };
}

/** Runs the CLI on a pseudo-terminal until `until` holds of its output; resolves with that output once the CLI has exited. */
export async function onPty(args: readonly string[], until: (out: string) => boolean, encoding: BufferEncoding = 'utf8'): Promise<string> {
  const run = cliOnPty(args, encoding);
  try {
    await waitFor('the expected terminal output', () => until(run.out()), 60_000);
  } finally {
    await run.stop();
  }
  return run.out();
}
