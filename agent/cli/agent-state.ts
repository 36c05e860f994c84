/**
 * How one-shot commands find the running agent: its state_dir (from --state-dir, or the config's
 * `state_dir`, or the default), the pid holding `state_dir/agent.lock`, and its status.json.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../app/config.js';
import { defaultStateDir } from '../app/context.js';
import { lockHolder } from '../app/state-lock.js';
import { STATUS_FILE, STATUS_FORMAT } from '../app/status.js';
import type { AgentStatus } from '../app/status.js';

export interface AgentLocation {
  stateDir: string;
  /** The live agent holding the state_dir, if any. */
  pid: number | undefined;
}

/** Throws ConfigError for a config that does not validate (exit code 2). */
export function locateAgent(opts: { config?: string | undefined; stateDir?: string | undefined }, env: NodeJS.ProcessEnv): AgentLocation {
  const stateDir = resolve(opts.stateDir ?? loadConfig(opts.config, env).config.state_dir ?? defaultStateDir(env));
  return { stateDir, pid: lockHolder(stateDir) };
}

/** The agent's last published status, or a reason why there is none. */
export function readStatus(stateDir: string): { kind: 'ok'; status: AgentStatus } | { kind: 'none'; why: string } {
  const file = join(stateDir, STATUS_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { kind: 'none', why: `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no status published yet' : (err as Error).message}` };
  }
  if (typeof raw !== 'object' || raw === null || (raw as { format?: unknown }).format !== STATUS_FORMAT) {
    return { kind: 'none', why: `${file}: not a portwarden status file of format ${STATUS_FORMAT}` };
  }
  return { kind: 'ok', status: raw as AgentStatus };
}
