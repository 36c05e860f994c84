import type { FirewallProfile, FirewallRule, FirewallState } from './firewall-state.js';
import { isRecord, parsePsJson, str } from './powershell-json.js';
import { PortwardenError } from '../../util/errors.js';

/**
 * The NetSecurity cmdlet form of the firewall state, used when the FwPolicy2 COM object is not
 * available: `Get-NetFirewallRule` omits ports and programs, so the port, application, address and
 * service filters are fetched once each (`-All`) and joined on `InstanceID` (six cmdlet calls,
 * not one per rule). Enums are projected to their names; numbers are accepted too.
 */
export const FIREWALL_CMDLET_SCRIPT = [
  "$sel = @{n='InstanceID';e={$_.InstanceID}}",
  "$rules = @(Get-NetFirewallRule -Direction Inbound -Enabled True | Select-Object Name,DisplayName,InstanceID,@{n='Action';e={[string]$_.Action}},@{n='Profile';e={[string]$_.Profile}})",
  "$ports = @(Get-NetFirewallPortFilter -All | Select-Object $sel,Protocol,LocalPort)",
  "$apps = @(Get-NetFirewallApplicationFilter -All | Select-Object $sel,Program)",
  "$addrs = @(Get-NetFirewallAddressFilter -All | Select-Object $sel,LocalAddress,RemoteAddress)",
  "$svcs = @(Get-NetFirewallServiceFilter -All | Select-Object $sel,Service)",
  "$profiles = @(Get-NetFirewallProfile | Select-Object Name,@{n='Enabled';e={[string]$_.Enabled}},@{n='DefaultInboundAction';e={[string]$_.DefaultInboundAction}})",
  "$active = @(Get-NetConnectionProfile | ForEach-Object { [string]$_.NetworkCategory })",
  '[pscustomobject]@{ Active=$active; Profiles=$profiles; Rules=$rules; Ports=$ports; Apps=$apps; Addresses=$addrs; Services=$svcs } | ConvertTo-Json -Compress -Depth 5',
].join('\n');

const PROFILE_BITS: Record<string, number> = { domain: 1, private: 2, public: 4, any: 7 };
/** NetworkCategory of Get-NetConnectionProfile: Public 0, Private 1, DomainAuthenticated 2. */
const CATEGORY_BITS: Record<string, number> = { public: 4, '0': 4, private: 2, '1': 2, domainauthenticated: 1, '2': 1 };

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String);
  if (typeof v === 'string' || typeof v === 'number') return [String(v)];
  return [];
}

function rows(v: unknown): Record<string, unknown>[] {
  const a: unknown[] = Array.isArray(v) ? (v as unknown[]) : v === undefined || v === null ? [] : [v];
  return a.filter(isRecord);
}

/** `Domain, Private` / `Any` / 0 / 3 -> bitmask (0 = Any). */
export function profileMask(v: unknown): number {
  if (typeof v === 'number') return v === 0 ? 7 : v;
  return list(v).flatMap((s) => s.split(',')).reduce((m, s) => m | (PROFILE_BITS[s.trim().toLowerCase()] ?? 0), 0) || 7;
}

/** GpoBoolean: True / 1 = on, False / 2 = off, NotConfigured / 3 = the default (on). */
function gpoOn(v: unknown): boolean {
  const s = String(v).toLowerCase();
  return !(s === 'false' || s === '2');
}

/** Action: Allow / 2 = allow, Block / 4 = block, NotConfigured / 0 = the profile default (block). */
function actionOf(v: unknown): 'allow' | 'block' | undefined {
  const s = String(v).toLowerCase();
  if (s === 'allow' || s === '2') return 'allow';
  if (s === 'block' || s === '4') return 'block';
  return undefined;
}

const anyToStar = (xs: string[]): string => (xs.length === 0 || xs.some((x) => x.toLowerCase() === 'any') ? '*' : xs.join(','));

function byId(v: unknown): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  for (const r of rows(v)) {
    const id = str(r, 'InstanceID');
    if (id !== undefined) m.set(id, r);
  }
  return m;
}

export function parseFirewallCmdletJson(text: string, readAt: Date): { state: FirewallState; warnings: string[] } {
  const warnings: string[] = [];
  const top = parsePsJson(text)[0];
  if (!isRecord(top)) throw new PortwardenError('FIREWALL_UNREADABLE', 'firewall (cmdlets): expected a JSON object');
  const profiles: FirewallProfile[] = [];
  for (const p of rows(top.Profiles)) {
    const type = PROFILE_BITS[(str(p, 'Name') ?? '').toLowerCase()];
    if (type === undefined || type === 7) continue;
    profiles.push({ type, enabled: gpoOn(p.Enabled), defaultInboundAction: actionOf(p.DefaultInboundAction) === 'allow' ? 1 : 0 });
  }
  const currentProfiles = list(top.Active).reduce((m, c) => m | (CATEGORY_BITS[c.toLowerCase()] ?? 0), 0);
  const [ports, apps, addrs, svcs] = [byId(top.Ports), byId(top.Apps), byId(top.Addresses), byId(top.Services)];
  const rules: FirewallRule[] = [];
  for (const r of rows(top.Rules)) {
    const id = str(r, 'InstanceID') ?? str(r, 'Name') ?? '';
    const action = actionOf(r.Action);
    if (action === undefined) { warnings.push(`firewall rule "${str(r, 'DisplayName') ?? id}": action ${String(r.Action)} ignored`); continue; }
    const port = ports.get(id);
    const proto = (list(port?.Protocol)[0] ?? 'Any').toLowerCase();
    const rule: FirewallRule = {
      name: str(r, 'DisplayName') ?? id,
      action,
      profiles: profileMask(r.Profile),
      protocol: proto === 'tcp' || proto === '6' ? 6 : proto === 'udp' || proto === '17' ? 17 : proto === 'any' ? 256 : -1,
      localPorts: anyToStar(list(port?.LocalPort)),
      localAddresses: anyToStar(list(addrs.get(id)?.LocalAddress)),
      remoteAddresses: anyToStar(list(addrs.get(id)?.RemoteAddress)),
    };
    const program = list(apps.get(id)?.Program)[0];
    if (program !== undefined && program.toLowerCase() !== 'any') rule.applicationName = program;
    const service = list(svcs.get(id)?.Service)[0];
    if (service !== undefined && service.toLowerCase() !== 'any') rule.serviceName = service;
    rules.push(rule);
  }
  return { state: { currentProfiles, profiles, rules, readAt }, warnings };
}
