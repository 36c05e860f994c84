import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HarnessArgs } from './crash-harness.js';

const harness = fileURLToPath(new URL('./crash-harness.js', import.meta.url));

export interface HarnessRun {
  acked: number[];
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs the crash harness. `killAfterMs`: SIGKILL it that long after it started; `termAfterAcks`:
 * SIGTERM it once that many events are acknowledged. Always reaps the child (registered with `track`).
 */
export function runHarness(args: HarnessArgs, opts: { killAfterMs?: number; termAfterAcks?: number; timeoutMs?: number; track: (kill: () => void) => void }): Promise<HarnessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [harness, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    opts.track(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    const lines: string[] = [];
    const acked: number[] = [];
    let buf = '';
    let termSent = false;
    const timers: NodeJS.Timeout[] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const m = /^ack (\d+)$/.exec(line);
        if (m !== null) acked.push(Number(m[1]));
        if (line === 'started' && opts.killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
      }
      if (opts.termAfterAcks !== undefined && !termSent && acked.length >= opts.termAfterAcks) {
        termSent = true;
        child.kill('SIGTERM');
      }
    });
    timers.push(setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ acked, lines, code, signal });
    });
  });
}
