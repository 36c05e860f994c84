import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defer, tempState } from '../../unit/agent/pipeline/support.js';
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

/** A crash test's set-up: its state dir and output file, a seeded PRNG, and the children to reap. */
export interface CrashSetup {
  stateDir: string;
  outPath: string;
  random: () => number;
  /** Registers a child's kill, run after the test (pass to runHarness). */
  track: (kill: () => void) => void;
}

/** Temp dirs, a PRNG seeded from PORTWARDEN_CRASH_SEED or the clock (logged, to replay a failure), child reaping. */
export async function crashSetup(t: TestContext): Promise<CrashSetup> {
  const dir = await tempState(t);
  const kills: (() => void)[] = [];
  defer(t, () => { for (const k of kills) k(); return Promise.resolve(); });
  const seed = Number(process.env.PORTWARDEN_CRASH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PORTWARDEN_CRASH_SEED to replay)`);
  return { stateDir: join(dir, 'state'), outPath: join(dir, 'out', 'events.ndjson'), random: rng(seed), track: (k) => kills.push(k) };
}

/** What the output file holds against what was acknowledged. */
export interface Tally {
  /** The drain run's stdout lines (it prints `drained` once everything went out). */
  drainLines: string[];
  /** Acknowledged events that never reached the output. */
  missing: number[];
  /** Deliveries beyond the first of each event. */
  duplicates: number;
  distinct: number;
  /** Events delivered that were never accepted (sequence past the last one handed out). */
  unexpected: number[];
}

/**
 * The last run, with the output up: accepts `count` more events from `first` on and drains the
 * spool; `acked` gains its acknowledgements. Then tallies the output file against `acked`.
 */
export async function drainAndTally(s: CrashSetup, acked: Set<number>, first: number, count = 10): Promise<Tally> {
  const final = await runHarness({ stateDir: s.stateDir, outPath: s.outPath, mode: 'drain', first, count }, { track: s.track });
  for (const n of final.acked) acked.add(n);
  const got = await delivered(s.outPath);
  const seen = new Set(got);
  return {
    drainLines: final.lines, missing: [...acked].filter((n) => !seen.has(n)), duplicates: got.length - seen.size, distinct: seen.size,
    unexpected: [...seen].filter((n) => n >= first + count),
  };
}
