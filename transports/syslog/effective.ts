import type { SyslogConfig } from './config.js';

/** Syslog facility names (RFC 5424 table 1) and their codes. */
export const FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, security: 13, console: 14, solaris_cron: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type FacilityName = keyof typeof FACILITIES;

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
