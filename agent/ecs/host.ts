import { readFileSync } from 'node:fs';
import { arch, hostname, machine, networkInterfaces, platform } from 'node:os';
import si from 'systeminformation';
import { hostOsType } from '../util/os.js';
import type { OsType } from '../util/os.js';
import { beatsArchitecture, beatsPlatform } from './host-os.js';

/** The `host.*` block, read once at start-up (systeminformation) and cached. */
export interface HostContext {
  id: string;
  name: string;
  hostname: string;
  architecture: string;
  os: { type: OsType | 'unix'; family?: string; name?: string; version?: string; kernel?: string; platform: string; full?: string };
  ip: string[];
  mac: string[];
  boot: { id: string };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readTrim(path: string): string | undefined {
  try {
    const v = readFileSync(path, 'utf8').trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
}

/** ECS wants MACs as upper-case, dash-separated. */
function ecsMac(mac: string): string {
  return mac.toUpperCase().replace(/:/g, '-');
}

/**
 * Reads host metadata. `fallbackId` (the persisted agent id) is host.id when the OS gives no
 * machine id. Never throws: missing pieces are left out.
 */
export async function readHostContext(fallbackId: string): Promise<HostContext> {
  const [osInfo, uuid] = await Promise.all([si.osInfo().catch(() => undefined), si.uuid().catch(() => undefined)]);
  const time = si.time();
  // node:os has addresses at no cost; systeminformation's interface scan spawns tools per NIC.
  const ip = new Set<string>();
  const mac = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      ip.add(a.address.split('%')[0] ?? a.address);
      if (a.mac !== '00:00:00:00:00:00') mac.add(ecsMac(a.mac));
    }
  }
  const machineId = readTrim('/etc/machine-id') ?? (uuid?.os !== undefined && uuid.os !== '' ? uuid.os : undefined);
  const bootStart = Math.round((Date.now() / 1000 - time.uptime) / 10) * 10;
  const bootId = readTrim('/proc/sys/kernel/random/boot_id') ?? `boot-${bootStart}`;
  const short = hostname().toLowerCase();
  const fqdn = osInfo?.fqdn !== undefined && osInfo.fqdn !== '' ? osInfo.fqdn.toLowerCase() : short;
  const osRelease = platform() === 'linux' ? readText('/etc/os-release') ?? readText('/usr/lib/os-release') : undefined;
  const os: HostContext['os'] = { type: hostOsType(platform()), platform: beatsPlatform(platform(), osRelease) };
  if (osInfo !== undefined) {
    if (osInfo.distro !== '') os.name = osInfo.distro;
    if (osInfo.release !== '') os.version = osInfo.release;
    if (osInfo.kernel !== '') os.kernel = osInfo.kernel;
    if (osInfo.distro !== '') os.full = `${osInfo.distro} ${osInfo.release}`.trim();
    if (os.type === 'linux') os.family = familyOf(osInfo.distro);
  }
  return {
    id: machineId ?? fallbackId,
    name: fqdn,
    hostname: short,
    architecture: beatsArchitecture(machine(), arch()),
    os,
    ip: [...ip],
    mac: [...mac],
    boot: { id: bootId },
  };
}

function familyOf(distro: string): string {
  const d = distro.toLowerCase();
  if (/debian|ubuntu|mint/.test(d)) return 'debian';
  if (/red ?hat|centos|fedora|rocky|alma|amazon|oracle/.test(d)) return 'redhat';
  if (/suse/.test(d)) return 'suse';
  if (/alpine/.test(d)) return 'alpine';
  if (/arch/.test(d)) return 'arch';
  return d.split(/\s+/)[0] ?? 'linux';
}
