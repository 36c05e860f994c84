import { z } from 'zod';
import { duration } from '../../config/types.js';

const scope = z.enum(['any', 'loopback', 'link_local', 'private', 'public']);

/** "This is fine here": every key given must match for the entry to silence an alert. */
export const allowEntrySchema = z.strictObject({
  comment: z.string().optional().describe('why this is allowed (for the next admin)'),
  rules: z.array(z.string()).default([]).describe('rule ids this entry silences; empty: every rule'),
  ports: z.array(z.number().int().min(0).max(65535)).default([]).describe('listener local ports'),
  programs: z.array(z.string()).default([])
    .describe('process name or executable path; glob (* ?) allowed; case-insensitive on Windows'),
  parents: z.array(z.string()).default([]).describe('parent process name or executable path (glob)'),
  users: z.array(z.string()).default([]).describe('user.name of the process'),
  scopes: z.array(scope).default([]).describe('listener exposure scopes'),
  cidrs: z.array(z.string()).default([]).describe('listener local address inside one of these CIDRs (10.0.0.0/8, fd00::/8)'),
});
export type AllowEntry = z.output<typeof allowEntrySchema>;

const owners = z.array(z.string()).optional();

/** Adds or replaces a sensitive-port catalogue entry (matched by transport and port). */
export const sensitivePortSchema = z.strictObject({
  ports: z.array(z.number().int().min(1).max(65535)).min(1).describe('ports of the service'),
  service: z.string().describe('service name shown in alerts'),
  transport: z.enum(['tcp', 'udp']).default('tcp').describe('transport'),
  tactic: z.string().default('TA0001').describe('ATT&CK tactic id'),
  technique: z.string().default('T1133').describe('ATT&CK technique id'),
  exposure: z.enum(['alert', 'ignore']).default('alert').describe('alert whenever it listens beyond loopback'),
  expected_owners: z.strictObject({
    linux: owners.describe('process names expected on Linux (absent: any)'),
    windows: owners.describe('process names expected on Windows (absent: any)'),
    macos: owners.describe('process names expected on macOS (absent: any)'),
  }).prefault({}).describe('who may own the port per OS'),
});
export type SensitivePortConfig = z.output<typeof sensitivePortSchema>;

/** Detection settings; owned by the detectors. */
export const detectSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('run the built-in detectors and emit alerts'),
  builtin_rules: z.boolean().default(true).describe('load the shipped rule packs (config/rules/*.yaml)'),
  rule_files: z.array(z.string()).default([])
    .describe('extra rule files or directories (every *.yml/*.yaml below, sorted), native packs or Sigma; relative paths: to the config file'),
  disabled_rules: z.array(z.string()).default([]).describe('rule ids to switch off'),
  allowlist: z.array(allowEntrySchema).default([]).describe('alerts to silence (port, program, parent, user, scope, CIDR)'),
  sensitive_ports: z.array(sensitivePortSchema).default([])
    .describe('add to or override the sensitive-port catalogue (same transport+port replaces the shipped entry)'),
  suspicious_ports: z.array(z.number().int().min(1).max(65535)).optional()
    .describe('replace the known bind-shell/C2 port list (default 1234 1337 4444 4445 4446 5555 6666 6667 6697 9001 12345 12346 20034 31337 54320 54321)'),
  relay: z.strictObject({
    enabled: z.boolean().default(true).describe('Linux: watch listening processes for relaying a client\'s connection to another host (rule pw-listener-relay)'),
    interval: duration({ max: 3_600_000 }).default(5000).refine((ms) => ms >= 100, 'expected at least 100ms')
      .describe('how often the established connections of listening processes (and their direct children) are read'),
    max_per_look: z.number().int().min(1).max(100_000).default(64)
      .describe('candidate processes read and evaluated per look at most; the rest wait for the next looks, longest-waiting first (a worker pool of N is covered in N / max_per_look looks)'),
  }).prefault({}).describe('relay detection: a listener\'s owner seen forwarding connections (port forwarders, tunnels)'),
  baseline: z.strictObject({
    enabled: z.boolean().default(true).describe('learn (program, port, scope) and (parent -> child) per host; alert on first-seen ones after learning'),
    learning: duration({ max: 24 * 86_400_000 }).default(24 * 3600_000).describe('learning window from the first event, e.g. 24h or 7d (at most 24d)'),
    save_interval: duration().default(300_000).describe('how often a changed baseline is written to <state_dir>/baseline.json'),
    max_entries: z.number().int().min(100).default(50_000).describe('cap per host and kind; the oldest entries are forgotten first'),
  }).prefault({}).describe('learned per-host baseline'),
}).prefault({}).describe('unusual listener and parent-child detection');
export type DetectConfig = z.output<typeof detectSchema>;
