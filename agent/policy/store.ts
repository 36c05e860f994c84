/**
 * The last good bundle in `<state_dir>/policy/`: the envelope exactly as fetched (its signatures are
 * checked again whenever it is read) and a small state file (ETag, version, when it was applied).
 * Both are written atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves
 * the old or the new one, never half of either.
 */
import { readRegularFileSync, writeAtomic } from '../util/safe-fs.js';
import { join } from 'node:path';

export const policyDir = (stateDir: string): string => join(stateDir, 'policy');
export const bundleFile = (stateDir: string): string => join(policyDir(stateDir), 'bundle.json');
export const stateFile = (stateDir: string): string => join(policyDir(stateDir), 'state.json');

/** What the agent remembers of the bundle it applied. */
export interface PolicyState {
  version: string;
  created: string;
  keyId: string;
  appliedAt: string;
  etag?: string;
  /** Where it came from: scheme, host and path (never a query string, which may carry a token). */
  source: string;
}

/**
 * Saves the bundle first, then its state: a state never describes a bundle that is not there. Off
 * the event loop (the running agent saves each bundle it applies); the caller orders the saves.
 */
export async function saveLastGood(stateDir: string, envelope: Buffer, state: PolicyState): Promise<void> {
  await writeAtomic(bundleFile(stateDir), envelope, { syncDir: true });
  await writeAtomic(stateFile(stateDir), `${JSON.stringify(state, null, 2)}\n`, { syncDir: true });
}

/** The most state.json may hold: a few hundred bytes are written. */
export const MAX_STATE_BYTES = 64 * 1024;

/** The file's bytes, or undefined when it does not exist. */
function readIfThere(file: string, maxBytes: number): Buffer | undefined {
  try {
    return readRegularFileSync(file, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The stored envelope, or undefined when there is none. `maxBytes` is `policy.max_bytes`: what a
 * fetch accepts is what may be read back. Throws, naming the file, for one that cannot be read, is
 * not a regular file (a FIFO planted there cannot hang the start) or is over the cap (its size too).
 */
export function readLastGood(stateDir: string, maxBytes: number): Buffer | undefined {
  return readIfThere(bundleFile(stateDir), maxBytes);
}

/** The stored state, or undefined when there is none or it is not one; throws as readLastGood. */
export function readPolicyState(stateDir: string): PolicyState | undefined {
  const bytes = readIfThere(stateFile(stateDir), MAX_STATE_BYTES);
  if (bytes === undefined) return undefined;
  let raw: Partial<PolicyState>;
  try {
    raw = JSON.parse(bytes.toString('utf8')) as Partial<PolicyState>;
  } catch {
    return undefined;
  }
  if (typeof raw.version !== 'string' || typeof raw.created !== 'string') return undefined;
  return raw as PolicyState;
}

/** The URL as logs and state may show it. */
export function displayUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
