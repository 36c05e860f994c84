import { isAnyAddress, isLoopback } from './address.js';
import type { FirewallRule, FirewallState } from './firewall-state.js';
import type { Transport } from '../types.js';

/**
 * Is a listener reachable through Windows Defender Firewall? Per active profile: firewall off
 * => allowed; a matching enabled inbound Block rule wins; else a matching Allow rule; else the
 * profile's default inbound action. Any active profile that allows makes the listener allowed.
 * A filter we cannot decide (unknown executable, `RPC` or `LocalSubnet` keywords) makes the
 * answer `unknown` rather than a guess.
 */
export type FirewallVerdict = 'allowed' | 'blocked' | 'unknown';

export interface FirewallTarget {
  transport: Transport;
  address: string;
  port: number;
  /** Full image path as Windows shows it (`C:\Windows\System32\svchost.exe`). */
  executable?: string | undefined;
  /** Process name, for rules on the `System` pseudo-program. */
  processName?: string | undefined;
  serviceName?: string | undefined;
}

type Tri = 'yes' | 'no' | 'maybe';

const and = (...xs: Tri[]): Tri => (xs.includes('no') ? 'no' : xs.includes('maybe') ? 'maybe' : 'yes');
const or = (xs: Tri[]): Tri => (xs.includes('yes') ? 'yes' : xs.includes('maybe') ? 'maybe' : 'no');

const DEFAULT_ENV: Record<string, string> = {
  systemroot: 'C:\\Windows', windir: 'C:\\Windows', systemdrive: 'C:',
  programfiles: 'C:\\Program Files', 'programfiles(x86)': 'C:\\Program Files (x86)',
  programdata: 'C:\\ProgramData',
};

/** Expands `%VAR%` (case-insensitive) and lower-cases, for comparing rule programs with image paths. */
export function normaliseProgram(path: string, env: Record<string, string> = DEFAULT_ENV): string {
  return path.replace(/%([^%]+)%/g, (m, v: string) => env[v.toLowerCase()] ?? DEFAULT_ENV[v.toLowerCase()] ?? m).toLowerCase();
}

function matchProtocol(rule: FirewallRule, t: FirewallTarget): Tri {
  if (rule.protocol === 256) return 'yes';
  return rule.protocol === (t.transport === 'tcp' ? 6 : 17) ? 'yes' : 'no';
}

export function matchPorts(spec: string, port: number): Tri {
  if (spec === '*' || spec.trim() === '') return 'yes';
  const results: Tri[] = spec.split(',').map((raw): Tri => {
    const p = raw.trim();
    const range = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (range?.[1] !== undefined) {
      const lo = Number(range[1]);
      const hi = range[2] === undefined ? lo : Number(range[2]);
      return port >= lo && port <= hi ? 'yes' : 'no';
    }
    if (p.toLowerCase() === 'rpc-epmap') return port === 135 ? 'yes' : 'no';
    return 'maybe';
  });
  return or(results);
}

function ipv4ToInt(a: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function matchOneAddress(item: string, address: string): Tri {
  const a = ipv4ToInt(address);
  const [base = '', mask] = item.split('/');
  const range = item.split('-');
  if (a !== undefined && range.length === 2) {
    const lo = ipv4ToInt(range[0] ?? '');
    const hi = ipv4ToInt(range[1] ?? '');
    if (lo !== undefined && hi !== undefined) return a >= lo && a <= hi ? 'yes' : 'no';
  }
  const b = ipv4ToInt(base);
  if (a !== undefined && b !== undefined) {
    let bits = 32;
    if (mask !== undefined) {
      const dotted = ipv4ToInt(mask);
      bits = dotted !== undefined ? 32 - Math.log2(2 ** 32 - dotted) : Number(mask);
    }
    const div = 2 ** (32 - bits);
    return Math.floor(a / div) === Math.floor(b / div) ? 'yes' : 'no';
  }
  if (/^[0-9a-f:.]+(\/\d+)?$/i.test(item) && address.includes(':')) {
    return mask === undefined && base.toLowerCase() === address.toLowerCase().replace(/%.*$/, '') ? 'yes' : 'maybe';
  }
  if (/^[0-9.]+/.test(item) && address.includes(':')) return 'no';
  return 'maybe';
}

/**
 * A rule limited to some local addresses: for Allow, it exposes an any-address listener on those
 * addresses (yes); for Block, it does not cover the whole any-address listener (maybe).
 */
function matchLocalAddress(rule: FirewallRule, t: FirewallTarget): Tri {
  if (rule.localAddresses === '*' || rule.localAddresses.trim() === '') return 'yes';
  if (isAnyAddress(t.address)) return rule.action === 'allow' ? 'yes' : 'maybe';
  return or(rule.localAddresses.split(',').map((i) => matchOneAddress(i.trim(), t.address)));
}

function matchProgram(rule: FirewallRule, t: FirewallTarget, env?: Record<string, string>): Tri {
  const app = rule.applicationName;
  if (app === undefined || app === '' || app === '*') return 'yes';
  if (app.toLowerCase() === 'system') return t.processName?.toLowerCase() === 'system' ? 'yes' : t.executable === undefined ? 'maybe' : 'no';
  if (t.executable === undefined) return 'maybe';
  return normaliseProgram(app, env) === normaliseProgram(t.executable, env) ? 'yes' : 'no';
}

function matchService(rule: FirewallRule, t: FirewallTarget): Tri {
  const svc = rule.serviceName;
  if (svc === undefined || svc === '') return 'yes';
  if (t.serviceName === undefined) return 'maybe';
  if (svc === '*') return 'yes';
  return svc.toLowerCase() === t.serviceName.toLowerCase() ? 'yes' : 'no';
}

export function ruleMatches(rule: FirewallRule, t: FirewallTarget, env?: Record<string, string>): Tri {
  return and(matchProtocol(rule, t), matchPorts(rule.localPorts, t.port), matchLocalAddress(rule, t),
    matchProgram(rule, t, env), matchService(rule, t));
}

/** The verdict, or undefined for loopback binds (not reachable from the network at all). */
export function evaluateFirewall(
  t: FirewallTarget, state: FirewallState | undefined, env?: Record<string, string>,
): FirewallVerdict | undefined {
  if (isLoopback(t.address)) return undefined;
  if (state === undefined || state.profiles.length === 0) return 'unknown';
  const active = state.profiles.filter((p) => (state.currentProfiles & p.type) !== 0);
  // No active profile reported (all adapters unidentified): judge by every profile.
  const judged = active.length > 0 ? active : state.profiles;
  const verdicts = judged.map((p): FirewallVerdict => {
    if (!p.enabled) return 'allowed';
    const rules = state.rules.filter((r) => (r.profiles & p.type) !== 0);
    const block = or(rules.filter((r) => r.action === 'block').map((r) => ruleMatches(r, t, env)));
    const allow = or(rules.filter((r) => r.action === 'allow').map((r) => ruleMatches(r, t, env)));
    if (block === 'yes') return 'blocked';
    if (allow === 'maybe' || block === 'maybe') return allow === 'no' && p.defaultInboundAction === 0 ? 'blocked' : 'unknown';
    if (allow === 'yes') return 'allowed';
    return p.defaultInboundAction === 1 ? 'allowed' : 'blocked';
  });
  if (verdicts.includes('allowed')) return 'allowed';
  if (verdicts.includes('unknown')) return 'unknown';
  return 'blocked';
}
