import type { Logger } from '../log/logger.js';
import { Registry } from '../util/registry.js';
import type { Source } from './types.js';
import type { SourceConfig } from './config.js';
import type { MakeHousekeeping } from './housekeeping.js';
import { createLinuxSource } from './linux/index.js';

/** What agent/app/context.ts gives a collector. */
export interface SourceOptions {
  /** The real-time feed to open at start, where the platform has one (the agent only). */
  realtime?: SourceConfig;
  /** Watch outbound connections too (events.connections is not off), with the realtime config's filters. */
  connections?: boolean;
  /** Memory housekeeping around bursts of work, where the collector has them (agent/runtime/). */
  housekeeping?: MakeHousekeeping;
  /** Whose socket stdin is checked for TCP, where the collector can tell (agent/detect/shell-like.ts). */
  stdinChecked?: (comm: string) => boolean;
  /** The `source` config section (the Windows collector reads its executable hashing keys). */
  config?: SourceConfig;
}

type MakeSource = (logger: Logger, opts: SourceOptions) => Source;

/**
 * Every collector, one line each. Native collectors for Windows and macOS load lazily (they pull
 * in platform-only modules), and so does the portable fallback (systeminformation is large, and
 * Linux, Windows and macOS do not need it).
 */
const collectors = {
  linux: () => Promise.resolve((logger, { realtime, connections, housekeeping, stdinChecked }) => {
    // A container watching its host mounts the host's /proc elsewhere (the DaemonSet: /host/proc).
    const procRoot = process.env.PORTWARDEN_PROC_ROOT;
    return createLinuxSource({
      logger,
      ...(procRoot === undefined || procRoot === '' ? {} : { procRoot }),
      ...(realtime === undefined ? {} : {
        realtime: {
          mode: realtime.realtime, ringBytes: realtime.ring_buffer,
          ...(connections === true ? { connections: { loopback: realtime.connections.loopback, windowMs: realtime.connections.dedupe_window } } : {}),
        },
      }),
      ...(housekeeping === undefined ? {} : { housekeeping }),
      ...(stdinChecked === undefined ? {} : { stdinChecked }),
    });
  }),
  windows: async () => {
    const m = await import('./windows/index.js');
    // Listener tiers to skip (tests and diagnosis): iphelper, netstat, powershell.
    const disable = m.parseDisabledTiers(process.env.PORTWARDEN_WINDOWS_DISABLE);
    return (logger, { config, realtime, connections }) => m.createWindowsSource({
      logger, disable,
      // No connect() hook on Windows: new outbound connections come from polling the connection table.
      ...(connections === true && realtime !== undefined ? { connections: { loopback: realtime.connections.loopback, windowMs: realtime.connections.dedupe_window } } : {}),
      ...(config === undefined ? {} : { exeInfo: { hashes: config.executable_hashes, maxHashBytes: config.executable_hash_max_size } }),
    });
  },
  darwin: async () => { const m = await import('./darwin/index.js'); return (logger) => m.createDarwinSource({ logger }); },
  portable: async () => { const m = await import('./portable/index.js'); return () => new m.PortableSource(); },
} satisfies Record<string, () => Promise<MakeSource>>;

export const sourceRegistry = new Registry<Promise<MakeSource>>('collector', collectors);

/** A collector by name, or `auto`: this platform's. */
export type SourceKind = 'auto' | keyof typeof collectors;

/** The collector for a Node platform: the one place that picks a collector by platform. */
export function collectorFor(platform: NodeJS.Platform): Exclude<SourceKind, 'auto'> {
  switch (platform) {
    case 'linux': return 'linux';
    case 'win32': return 'windows';
    case 'darwin': return 'darwin';
    default: return 'portable';
  }
}

/** Creates the collector `kind` names, or this platform's (`auto`). */
export async function createSource(kind: SourceKind, logger: Logger, opts: SourceOptions = {}): Promise<Source> {
  const make = await sourceRegistry.get(kind === 'auto' ? collectorFor(process.platform) : kind);
  return make(logger, opts);
}
