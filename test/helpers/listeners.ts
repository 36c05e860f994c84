import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../../testkit/paths.js';

export interface Opened { spec: string; port: number }

export interface ListenerProcess {
  /** The outermost process started (e.g. the `webapp` shell). */
  proc: ChildProcess;
  opened: Opened[];
  kill: () => void;
}

/** Resolves with the JSON line listen.py prints once every socket is bound. */
function readReady(proc: ChildProcess): Promise<Opened[]> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    proc.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
    proc.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)) as Opened[]);
    });
    proc.once('exit', (code) => { reject(new Error(`listener process exited (${code}): ${err}`)); });
  });
}

/**
 * Starts listen.py at the end of the chain `<outer> -> sh -> python3`, where `<outer>` is a copy
 * of /bin/sh named `outerName` (so the process table shows that name). `netns` runs the chain
 * inside a named network namespace (`ip netns exec`).
 */
export async function startListenerChain(outerName: string, specs: string[], netns?: string): Promise<ListenerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-chain-'));
  const outer = join(dir, outerName);
  copyFileSync('/bin/sh', outer);
  execFileSync('chmod', ['755', outer]);
  const script = fixture('scripts', 'listen.py');
  // Arguments travel as positional parameters, never spliced into the shell text.
  const inner = `sh -c 'python3 "$@"; exit 0' sh ${[script, ...specs].map((_, i) => '"${' + String(i + 1) + '}"').join(' ')}; exit 0`;
  const argv = [outer, '-c', inner, outerName, script, ...specs];
  const [cmd, ...args] = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
  const proc = spawn(cmd ?? outer, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const opened = await readReady(proc);
  return {
    proc,
    opened,
    kill: () => {
      try {
        if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** Creates a uniquely named network namespace; returns its name and a remover. */
export function createNetns(prefix: string): { name: string; remove: () => void } {
  const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    remove: () => {
      try {
        execFileSync('ip', ['netns', 'del', name]);
      } catch {
        // already removed
      }
    },
  };
}
