import type { SensitivePortConfig } from './config.js';
import type { OsType } from './types.js';

/**
 * A sensitive service port: who is expected to own it per OS (process names, compared without
 * case), the ATT&CK technique an unexpected or exposed listener maps to, and whether exposure
 * beyond loopback alone is worth an alert (services that answer without authentication by default).
 */
export interface PortEntry {
  ports: number[];
  service: string;
  transport: 'tcp' | 'udp';
  tactic: string;
  technique: string;
  exposure: 'alert' | 'ignore';
  /** Per OS; an OS not listed means any owner is accepted there. */
  expected: Partial<Record<OsType, string[]>>;
}

const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
const SYSTEMD = ['systemd', 'inetd', 'xinetd'];

/** Seeds: research/schemas.md sections 4, 5 and 8; CIS/vendor hardening guides for the "unauthenticated by default" set. */
export const SENSITIVE_PORTS: readonly PortEntry[] = [
  { ports: [22], service: 'SSH', transport: 'tcp', tactic: 'TA0008', technique: 'T1021.004', exposure: 'ignore',
    expected: { linux: ['sshd', 'sshd-session', 'dropbear', ...SYSTEMD], windows: ['sshd.exe'], macos: ['sshd', 'launchd'] } },
  { ports: [23], service: 'Telnet', transport: 'tcp', tactic: 'TA0008', technique: 'T1021', exposure: 'alert',
    expected: { linux: ['telnetd', 'in.telnetd', 'busybox', ...SYSTEMD], windows: ['tlntsvr.exe'], macos: ['launchd', 'telnetd'] } },
  { ports: [3389], service: 'RDP', transport: 'tcp', tactic: 'TA0008', technique: 'T1021.001', exposure: 'ignore',
    expected: { linux: ['xrdp', 'gnome-remote-desktop-daemon', 'grdctl'], windows: ['svchost.exe'] } },
  { ports: [445, 139], service: 'SMB', transport: 'tcp', tactic: 'TA0008', technique: 'T1021.002', exposure: 'ignore',
    expected: { linux: ['smbd', 'ksmbd'], windows: ['system'], macos: ['launchd', 'smbd'] } },
  { ports: [5985, 5986], service: 'WinRM', transport: 'tcp', tactic: 'TA0008', technique: 'T1021.006', exposure: 'ignore',
    expected: { linux: ['omiserver', 'omiengine'], windows: ['system', 'svchost.exe'] } },
  { ports: range(5900, 5910), service: 'VNC', transport: 'tcp', tactic: 'TA0008', technique: 'T1021.005', exposure: 'alert',
    expected: { linux: ['xvnc', 'x11vnc', 'vino-server', 'xtigervnc', 'vncserver', 'gnome-remote-desktop-daemon', 'wayvnc'], windows: ['winvnc.exe', 'tvnserver.exe', 'vncserver.exe', 'winvnc4.exe'], macos: ['launchd', 'screensharingd'] } },
  { ports: [135], service: 'MS-RPC endpoint mapper', transport: 'tcp', tactic: 'TA0008', technique: 'T1021.003', exposure: 'ignore',
    expected: { windows: ['svchost.exe'] } },
  { ports: [389, 636, 3268, 3269], service: 'LDAP', transport: 'tcp', tactic: 'TA0006', technique: 'T1552', exposure: 'ignore',
    expected: { linux: ['slapd', 'ns-slapd', 'samba', 'dirsrv'], windows: ['lsass.exe', 'dsamain.exe'] } },
  { ports: [1433], service: 'MSSQL', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'ignore',
    expected: { linux: ['sqlservr'], windows: ['sqlservr.exe'] } },
  { ports: [3306], service: 'MySQL', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'ignore',
    expected: { linux: ['mysqld', 'mariadbd', 'docker-proxy'], windows: ['mysqld.exe', 'mariadbd.exe'], macos: ['mysqld', 'mariadbd'] } },
  { ports: [5432], service: 'PostgreSQL', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'ignore',
    expected: { linux: ['postgres', 'postmaster', 'docker-proxy'], windows: ['postgres.exe'], macos: ['postgres'] } },
  { ports: [6379], service: 'Redis', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'alert',
    expected: { linux: ['redis-server', 'valkey-server', 'keydb-server', 'docker-proxy'], windows: ['redis-server.exe', 'memurai.exe'], macos: ['redis-server'] } },
  { ports: [27017, 27018], service: 'MongoDB', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'alert',
    expected: { linux: ['mongod', 'mongos', 'docker-proxy'], windows: ['mongod.exe', 'mongos.exe'], macos: ['mongod', 'mongos'] } },
  { ports: [9200, 9300], service: 'Elasticsearch', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'alert',
    expected: { linux: ['java', 'docker-proxy'], windows: ['java.exe', 'elasticsearch-service-x64.exe'], macos: ['java'] } },
  { ports: [11211], service: 'Memcached', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'alert',
    expected: { linux: ['memcached', 'docker-proxy'], windows: ['memcached.exe'], macos: ['memcached'] } },
  { ports: [2375, 2376], service: 'Docker API', transport: 'tcp', tactic: 'TA0002', technique: 'T1610', exposure: 'alert',
    expected: { linux: ['dockerd', 'podman', 'systemd'], windows: ['dockerd.exe', 'com.docker.backend.exe'], macos: ['com.docker.backend'] } },
  { ports: [10250, 10255], service: 'kubelet', transport: 'tcp', tactic: 'TA0002', technique: 'T1610', exposure: 'ignore',
    expected: { linux: ['kubelet', 'k3s', 'k3s-server', 'k3s-agent', 'k0s', 'microk8s'], windows: ['kubelet.exe'] } },
  { ports: [2379, 2380], service: 'etcd', transport: 'tcp', tactic: 'TA0006', technique: 'T1552', exposure: 'ignore',
    expected: { linux: ['etcd', 'k3s', 'k3s-server', 'kube-apiserver'], windows: ['etcd.exe'] } },
  { ports: [6443], service: 'Kubernetes API', transport: 'tcp', tactic: 'TA0002', technique: 'T1610', exposure: 'ignore',
    expected: { linux: ['kube-apiserver', 'k3s', 'k3s-server', 'k0s', 'haproxy', 'kubelite'] } },
  { ports: [21], service: 'FTP', transport: 'tcp', tactic: 'TA0010', technique: 'T1133', exposure: 'alert',
    expected: { linux: ['vsftpd', 'proftpd', 'pure-ftpd', 'ftpd', 'in.ftpd', ...SYSTEMD], windows: ['svchost.exe', 'inetinfo.exe', 'filezilla server.exe', 'filezilla-server.exe'] } },
  { ports: [873], service: 'rsync daemon', transport: 'tcp', tactic: 'TA0010', technique: 'T1133', exposure: 'alert',
    expected: { linux: ['rsync', ...SYSTEMD] } },
  { ports: [69], service: 'TFTP', transport: 'udp', tactic: 'TA0010', technique: 'T1133', exposure: 'alert',
    expected: { linux: ['in.tftpd', 'tftpd', 'dnsmasq', ...SYSTEMD], windows: ['tftpd.exe', 'wdsserver.exe', 'svchost.exe'] } },
  { ports: [161], service: 'SNMP', transport: 'udp', tactic: 'TA0043', technique: 'T1133', exposure: 'ignore',
    expected: { linux: ['snmpd'], windows: ['snmp.exe'] } },
  { ports: [5984], service: 'CouchDB', transport: 'tcp', tactic: 'TA0001', technique: 'T1190', exposure: 'alert',
    expected: { linux: ['beam.smp', 'couchdb', 'docker-proxy'], windows: ['erl.exe', 'couchdb.exe'] } },
];

/** Ports that bind shells, C2 frameworks and backdoors favour (any owner is worth a look). */
export const SUSPICIOUS_PORTS: readonly number[] = [1234, 1337, 4444, 4445, 4446, 5555, 6666, 6667, 6697, 9001, 12345, 12346, 20034, 31337, 54320, 54321];

/** The catalogue entry for a port and transport. */
export function sensitiveEntry(catalogue: readonly PortEntry[], port: number, transport: string): PortEntry | undefined {
  return catalogue.find((e) => e.transport === transport && e.ports.includes(port));
}

/** The shipped catalogue with the config's entries added; a configured transport+port replaces the shipped one. */
export function catalogueFrom(overrides: readonly SensitivePortConfig[]): PortEntry[] {
  const taken = new Set(overrides.flatMap((o) => o.ports.map((p) => `${o.transport}/${p}`)));
  const kept = SENSITIVE_PORTS
    .map((e) => ({ ...e, ports: e.ports.filter((p) => !taken.has(`${e.transport}/${p}`)) }))
    .filter((e) => e.ports.length > 0);
  const added: PortEntry[] = overrides.map((o) => ({
    ports: o.ports,
    service: o.service,
    transport: o.transport,
    tactic: o.tactic,
    technique: o.technique,
    exposure: o.exposure,
    expected: {
      ...(o.expected_owners.linux === undefined ? {} : { linux: o.expected_owners.linux }),
      ...(o.expected_owners.windows === undefined ? {} : { windows: o.expected_owners.windows }),
      ...(o.expected_owners.macos === undefined ? {} : { macos: o.expected_owners.macos }),
    },
  }));
  return [...kept, ...added];
}
