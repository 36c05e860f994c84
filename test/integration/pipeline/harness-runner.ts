import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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
export function runHarness(args: HarnessArgs, opts: {
  killAfterMs?: number;
  /** Counts killAfterMs from the spawn (the kill may land in start-up recovery), not from `started`. */
  killFromSpawn?: boolean;
  termAfterAcks?: number;
  timeoutMs?: number;
  track: (kill: () => void) => void;
}): Promise<HarnessRun> {
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
        if (line === 'started' && opts.killAfterMs !== undefined && opts.killFromSpawn !== true) timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
      }
      if (opts.termAfterAcks !== undefined && !termSent && acked.length >= opts.termAfterAcks) {
        termSent = true;
        child.kill('SIGTERM');
      }
    });
    if (opts.killFromSpawn === true && opts.killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
    timers.push(setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ acked, lines, code, signal });
    });
  });
}

/** A seeded PRNG (mulberry32), so a failing run can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The output file's documents (complete lines only). */
export async function outputDocs(path: string): Promise<{ event: { dataset: string; sequence: number; action: string }; portwarden?: { pipeline?: { lost?: number } } }[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as never);
}

/** event.sequence of every delivered test event (the agent's own events left out). */
export async function delivered(path: string): Promise<number[]> {
  return (await outputDocs(path)).filter((d) => d.event.dataset !== 'portwarden.agent').map((d) => d.event.sequence);
}
