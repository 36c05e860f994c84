import { accessSync, constants, mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
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

/** Default state dir: system-wide as root, per-user otherwise. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (process.platform === 'win32') return join(env.ProgramData ?? 'C:\\ProgramData', 'portwarden');
  if (process.getuid?.() === 0) return '/var/lib/portwarden';
  const base = env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(base, 'portwarden');
}

/** Creates the state dir if needed and proves it writable; a ConfigError naming `state_dir` otherwise. */
export function prepareStateDir(loaded: LoadedConfig, env: NodeJS.ProcessEnv): string {
  const dir = resolve(loaded.config.state_dir ?? defaultStateDir(env));
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError(loaded.file, 'state_dir', `a directory the agent can create, read and write (${dir}: ${errorMessage(err)})`, err);
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
  opts: { sourceKind?: SourceKind; stateReadOnly?: boolean; hostInWorker?: boolean; realtime?: boolean } = {},
): Promise<AgentContext> {
  let stateDir: string;
  let id: string;
  if (opts.stateReadOnly === true) {
    // One-shot commands only look: the agent's id when it has one, else an ephemeral one; they
    // create no state dir and write no id (`listeners` as root must not leave /var/lib/portwarden).
    stateDir = resolve(loaded.config.state_dir ?? defaultStateDir(env));
    id = readAgentId(stateDir) ?? randomUUID();
  } else {
    stateDir = prepareStateDir(loaded, env);
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
    housekeeping: runtimeHousekeeping,
    stdinChecked: isShellLike,
  });
  await source.start();
  return { stateDir, builder, table, source };
}
