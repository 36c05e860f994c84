import type { SyslogConfig } from './config.js';
import { FACILITIES } from './facilities.js';

export const UDP_MAX = 65_507;

/** The effective port and message cap, defaults depending on the protocol. */
export function effective(cfg: SyslogConfig): { port: number; maxBytes: number; facility: number } {
  const port = cfg.port ?? (cfg.protocol === 'tls' ? 6514 : 514);
  const dflt = cfg.protocol === 'udp' ? 2048 : 256 * 1024;
  const cap = cfg.max_message_bytes ?? dflt;
  const maxBytes = cfg.protocol === 'udp' ? Math.min(cap, UDP_MAX) : cap;
  const facility = typeof cfg.facility === 'number' ? cfg.facility : FACILITIES[cfg.facility];
  return { port, maxBytes: Math.max(maxBytes, 480), facility };
}
