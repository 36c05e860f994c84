import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { LoadedConfig } from './config.js';
import { loadAgentId, makeAgentInfo, readAgentId } from '../ecs/agent-info.js';
import { DocumentBuilder } from '../ecs/builder.js';
import { readHostContextInWorker } from '../ecs/host-isolated.js';
import { isShellLike } from '../detect/shell-like.js';
import { ProcessTable } from '../lineage/process-table.js';
import type { Logger } from '../log/logger.js';
import { runtimeHousekeeping } from '../runtime/memory-housekeeping.js';
import { createSource } from '../sources/index.js';
import type { SourceKind } from '../sources/index.js';
import type { Source } from '../sources/types.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { mkdirPrivateSync } from '../util/safe-fs.js';

/** Default state dir: system-wide as root, per-user otherwise. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (process.platform === 'win32') return join(env.ProgramData ?? 'C:\\ProgramData', 'portwarden');
  if (process.getuid?.() === 0) return '/var/lib/portwarden';
  const base = env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'portwarden');
}

/**
 * Why `dir` is a place other local users could tamper with (plant symlinks, swap files), or
 * undefined: the directory (after symlinks) must be owned by the agent's user or root and not
 * world-writable, and so must every directory above it, unless sticky (like /tmp).
 */
export function unsafeStateDir(dir: string): string | undefined {
  const me = process.geteuid?.();
  if (process.platform === 'win32' || me === undefined) return undefined;
  const real = realpathSync(dir);
  const name = real === dir ? dir : `${real} (where ${dir} leads)`;
  const kernel = ['/proc', '/sys', '/dev'].find((k) => real === k || real.startsWith(`${k}/`));
  if (kernel !== undefined) return `${name} is under ${kernel}`;
  const st = statSync(real);
  if ((st.mode & 0o002) !== 0) return `${name} is world-writable`;
  if (st.uid !== me && st.uid !== 0) return `${name} is owned by uid ${st.uid}, neither the agent's user (${me}) nor root`;
  for (let p = dirname(real); ; p = dirname(p)) {
    const a = statSync(p);
    if (a.uid !== me && a.uid !== 0) return `${p}, above ${name}, is owned by uid ${a.uid}, neither the agent's user (${me}) nor root`;
    if ((a.mode & 0o002) !== 0 && (a.mode & 0o1000) === 0) return `${p}, above ${name}, is world-writable without the sticky bit`;
    if (p === dirname(p)) return undefined;
  }
}

/** What the state_dir error says about an unsafe directory (unsafeStateDir's answer). */
export const stateDirUnsafe = (why: string): string => `a directory only the agent's user or root can change; ${why} (other users could plant symlinks or swap its files)`;

/**
 * Creates the state dir if needed (0700) and proves it writable and safe (unsafeStateDir); a
 * ConfigError naming `state_dir` otherwise.
 */
export function prepareStateDir(loaded: LoadedConfig, env: NodeJS.ProcessEnv): string {
  const dir = resolve(loaded.config.state_dir ?? defaultStateDir(env));
  let unsafe: string | undefined;
  try {
    mkdirPrivateSync(dir);
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    unsafe = unsafeStateDir(dir);
  } catch (err) {
    throw new ConfigError(loaded.file, 'state_dir', `a directory the agent can create, read and write (${dir}: ${errorMessage(err)})`, err);
  }
  if (unsafe !== undefined) {
    throw new ConfigError(loaded.file, 'state_dir', stateDirUnsafe(unsafe));
  }
  return dir;
}

export interface AgentContext {
  stateDir: string;
  builder: DocumentBuilder;
  table: ProcessTable;
  source: Source;
}

/** Everything a command needs to observe this host: ids, host metadata, the collector. */
export async function createAgentContext(
  loaded: LoadedConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv,
  opts: { sourceKind?: SourceKind; stateReadOnly?: boolean; hostInWorker?: boolean; realtime?: boolean; preparedStateDir?: string } = {},
): Promise<AgentContext> {
  let stateDir: string;
  let id: string;
  if (opts.stateReadOnly === true) {
    // One-shot commands only look: the agent's id when it has one, else an ephemeral one; they
    // create no state dir and write no id (`listeners` as root must not leave /var/lib/portwarden).
    stateDir = resolve(loaded.config.state_dir ?? defaultStateDir(env));
    id = readAgentId(stateDir) ?? randomUUID();
  } else {
    // `run` prepared it already, before taking its lock.
    stateDir = opts.preparedStateDir ?? prepareStateDir(loaded, env);
    const saved = loadAgentId(stateDir);
    id = saved.id;
    if (!saved.persisted) logger.warn('agent id could not be saved; it will change on restart', { stateDir });
  }
  // The long-running agent reads host metadata in a worker thread, so systeminformation never stays
  // in its memory (host-isolated.ts); one-shot commands read it in-process, sooner.
  const host = opts.hostInWorker === true ? await readHostContextInWorker(id) : await (await import('../ecs/host.js')).readHostContext(id);
  const builder = new DocumentBuilder(host, makeAgentInfo(id, host.hostname), loaded.config.data_stream.namespace);
  const table = new ProcessTable({ hostId: host.id, bootId: host.boot.id });
  const source = await createSource(opts.sourceKind ?? 'auto', logger, {
    ...(opts.realtime === true ? { realtime: loaded.config.source } : {}),
    config: loaded.config.source,
    housekeeping: runtimeHousekeeping,
    stdinChecked: isShellLike,
    connections: opts.realtime === true && loaded.config.events.connections !== 'off',
  });
  await source.start();
  return { stateDir, builder, table, source };
}
