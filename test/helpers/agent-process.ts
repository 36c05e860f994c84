import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsDocument } from '../../agent/ecs/document.js';
import { cliPath } from '../../testkit/paths.js';

/** Reads an NDJSON file (missing file = no documents); a last line still being written is left out. */
export function readNdjson(path: string): EcsDocument[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as EcsDocument);
}

export interface RunningAgent {
  dir: string;
  eventsFile: string;
  proc: ChildProcess;
  stderr: () => string;
  events: () => EcsDocument[];
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop: () => Promise<number | null>;
  /** Resolves with the exit code once the process exits, sending nothing (after a signal of the test's own: a second one would cut the stop short). */
  exited: Promise<number | null>;
}

/**
 * Starts `portwarden run` with a file output under a fresh temp dir (or `dir`). `extraYaml` is appended to the
 * generated config (top-level keys other than state_dir and outputs).
 */
export function startAgent(extraYaml = '', opts: { outputsYaml?: string | ((dir: string) => string); interval?: string; dir?: string } = {}): RunningAgent {
  // `dir` again: a restart of the agent on the same state dir and events file.
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pw-agent-'));
  const eventsFile = join(dir, 'events.ndjson');
  const outputs = typeof opts.outputsYaml === 'function' ? opts.outputsYaml(dir) : opts.outputsYaml ?? `outputs:\n  - type: file\n    path: ${eventsFile}\n    batch: { max_wait: 100ms }\n`;
  const cfg = `state_dir: ${join(dir, 'state')}\ninterval: ${opts.interval ?? '250ms'}\nlog: { level: debug, file: ${join(dir, 'agent.log')} }\n${outputs}${extraYaml}`;
  writeFileSync(join(dir, 'portwarden.yaml'), cfg);
  const proc = spawn(process.execPath, [cliPath, 'run', '--config', join(dir, 'portwarden.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code); }));
  return {
    dir,
    eventsFile,
    proc,
    stderr: () => err,
    events: () => readNdjson(eventsFile),
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
