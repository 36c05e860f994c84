import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { writeAtomicSync } from '../util/safe-fs.js';

/** The `agent.*` block. */
export interface AgentInfo {
  type: 'portwarden';
  name: string;
  id: string;
  version: string;
  ephemeral_id: string;
}

const require = createRequire(import.meta.url);

/** The package version, from package.json (works from the source tree and from dist/). */
export function agentVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'portwarden' && pkg.version !== undefined) return pkg.version;
    } catch {
      // try the next layout
    }
  }
  return '0.0.0';
}

/**
 * The persistent agent id, created once in `<stateDir>/agent-id` (written atomically). When the
 * state dir cannot be written, an ephemeral id is used and `persisted` is false.
 */
export function loadAgentId(stateDir: string): { id: string; persisted: boolean } {
  const file = join(stateDir, 'agent-id');
  const existing = readAgentId(stateDir);
  if (existing !== undefined) return { id: existing, persisted: true };
  const id = randomUUID();
  try {
    writeAtomicSync(file, `${id}\n`);
    return { id, persisted: true };
  } catch {
    return { id, persisted: false };
  }
}

/** The agent id saved in `<stateDir>/agent-id`, if there is a valid one; never writes. */
export function readAgentId(stateDir: string): string | undefined {
  try {
    const id = readFileSync(join(stateDir, 'agent-id'), 'utf8').trim();
    return /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export function makeAgentInfo(id: string, name: string): AgentInfo {
  return { type: 'portwarden', name, id, version: agentVersion(), ephemeral_id: randomUUID() };
}
