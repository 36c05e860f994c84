import type { Logger } from '../log/logger.js';
import type { Source } from './types.js';
import type { SourceConfig } from './config.js';
import { createLinuxSource } from './linux/index.js';

export type SourceKind = 'auto' | 'linux' | 'windows' | 'darwin' | 'portable';

/**
 * Picks the collector for this platform at run time. Native collectors for Windows and macOS are
 * loaded lazily (they pull in platform-only modules); anything else gets the portable fallback
 * (systeminformation), loaded lazily too.
 */
export async function createSource(kind: SourceKind, logger: Logger, realtime?: SourceConfig): Promise<Source> {
  const platform = kind === 'auto' ? process.platform : kind;
  switch (platform) {
    case 'linux': {
      // A container watching its host mounts the host's /proc elsewhere (the DaemonSet: /host/proc).
      const procRoot = process.env.PORTWARDEN_PROC_ROOT;
      return createLinuxSource({
        logger,
        ...(procRoot === undefined || procRoot === '' ? {} : { procRoot }),
        ...(realtime === undefined ? {} : { realtime: { mode: realtime.realtime, ringBytes: realtime.ring_buffer } }),
      });
    }
    case 'win32':
    case 'windows': {
      const m = await import('./windows/index.js');
      return m.createWindowsSource({ logger });
    }
    case 'darwin': {
      const m = await import('./darwin/index.js');
      return m.createDarwinSource({ logger });
    }
    default: {
      // Loaded only here: systeminformation is large and Linux, Windows and macOS do not need it.
      const m = await import('./portable/index.js');
      return new m.PortableSource();
    }
  }
}
