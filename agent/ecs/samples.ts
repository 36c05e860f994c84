import type { ProcessRecord } from '../sources/types.js';
import { ProcessTable } from '../lineage/process-table.js';
import type { AgentInfo } from './agent-info.js';
import { DocumentBuilder } from './builder.js';
import { connectionDocument } from './connection.js';
import type { EcsDocument } from './document.js';
import { Action, Kind } from './fields.js';
import type { HostContext } from './host.js';

/**
 * A fixed host, agent and process chain, and one document of every kind the agent builds
 * (listener, process, agent). Used by the ECS conformance test, the generated field reference and
 * the SIEM-content tests, so they all check what the real builders produce.
 */
export const sampleHost: HostContext = {
  id: '3d1219c7c4c5404aaa1f6d2a48adfda4',
  name: 'web-01.example.internal',
  hostname: 'web-01',
  architecture: 'x86_64',
  os: { type: 'linux', family: 'debian', name: 'Debian GNU/Linux', version: '12', kernel: '6.1.0-18-amd64', platform: 'debian', full: 'Debian GNU/Linux 12' },
  ip: ['192.0.2.10', '2001:db8::10'],
  mac: ['02-42-AC-11-00-02'],
  boot: { id: 'd113a22b-d90c-4a7e-9ab5-19c682231a34' },
};

export const sampleAgent: AgentInfo = {
  type: 'portwarden', name: 'web-01', id: '8c12473d-9c0c-4e88-9ead-d995031eee87', version: '0.1.0', ephemeral_id: '16e8aac9-8137-40d6-bc80-5fdd15462459',
};

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

/** systemd -> nginx (master) -> sh -> python3, a webshell-shaped chain. */
export const sampleChain: ProcessRecord[] = [
  { pid: 1, ppid: 0, startKey: '1', start: at(0), name: 'systemd', executable: '/usr/lib/systemd/systemd', args: ['/sbin/init'], commandLine: '/sbin/init', uid: 0, userName: 'root', pgid: 1, sid: 1 },
  { pid: 812, ppid: 1, startKey: '5100', start: at(51), name: 'nginx', executable: '/usr/sbin/nginx', args: ['nginx: master process /usr/sbin/nginx'], commandLine: 'nginx: master process /usr/sbin/nginx', workingDirectory: '/', uid: 33, userName: 'www-data', realUid: 33, realUserName: 'www-data', pgid: 812, sid: 812 },
  { pid: 4242, ppid: 812, startKey: '360000', start: at(3600), name: 'sh', executable: '/usr/bin/dash', args: ['sh', '-c', 'python3 -c "import pty"'], commandLine: "sh -c 'python3 -c \"import pty\"'", workingDirectory: '/var/www', uid: 33, userName: 'www-data', realUid: 33, realUserName: 'www-data', pgid: 812, sid: 812 },
  { pid: 4243, ppid: 4242, startKey: '360001', start: at(3600.01), name: 'python3', executable: '/usr/bin/python3.11', args: ['python3', '-c', 'import pty'], commandLine: "python3 -c 'import pty'", workingDirectory: '/var/www', uid: 33, userName: 'www-data', realUid: 33, realUserName: 'www-data', pgid: 812, sid: 812, netns: '4026531840' },
];

export function sampleBuilder(): { builder: DocumentBuilder; table: ProcessTable } {
  const builder = new DocumentBuilder(sampleHost, sampleAgent);
  const table = new ProcessTable({ hostId: sampleHost.id, bootId: sampleHost.boot.id });
  for (const r of sampleChain) table.upsert(r);
  return { builder, table };
}

/** One document per event kind, built by the real builders. */
export function sampleDocuments(): EcsDocument[] {
  const { builder, table } = sampleBuilder();
  const owner = table.get(4243);
  if (owner === undefined) throw new Error('sample chain broken');
  const anc = table.ancestors(owner);
  const listener = { netns: '4026531840', transport: 'tcp' as const, family: 'ipv4' as const, address: '0.0.0.0', port: 4444, inode: 91234, owners: [4243], uid: 33 };
  const udp6 = { netns: '4026531840', transport: 'udp' as const, family: 'ipv6' as const, address: 'fe80::1', zone: 'eth0', port: 5353, inode: 91235, owners: [4243], uid: 33 };
  const docs = [
    builder.listener(listener, owner, anc, { action: Action.listeningStarted, timestamp: at(3601) }),
    builder.listener(udp6, owner, anc, { action: Action.listeningExisting, timestamp: at(3601) }),
    builder.listener(listener, owner, anc, { action: Action.listeningExisting, kind: Kind.state, timestamp: at(7200) }),
    builder.listener(listener, owner, anc, { action: Action.listeningStopped, timestamp: at(7300), start: at(3601), end: at(7300) }),
    builder.listener({ ...listener, owners: [], port: 22 }, undefined, [], { action: Action.listeningStarted, timestamp: at(3601) }),
    builder.process(Action.processExec, owner, anc),
    builder.process(Action.processStart, owner, anc),
    builder.process(Action.alreadyRunning, owner, anc, at(1)),
    connectionDocument(builder, {
      pid: 4243, name: 'python3', netns: '4026531840', transport: 'tcp', family: 'ipv4', sourceAddress: '192.0.2.10', sourcePort: 0,
      destinationAddress: '203.0.113.50', destinationPort: 4444, suppressed: 2, uid: 33,
    }, owner, anc, at(3602)),
  ];
  // The listener's owner relaying: a client's connection accepted on 4444, and one it opened to 10.20.0.7:22.
  const accepted = { pid: 4243, netns: '4026531840', family: 'ipv4' as const, localAddress: '192.0.2.10', localPort: 4444, remoteAddress: '198.51.100.23', remotePort: 50412, inode: 91301, bytesRead: 2114, bytesWritten: 3021 };
  const opened = { ...accepted, localPort: 41862, remoteAddress: '10.20.0.7', remotePort: 22, inode: 91302, bytesRead: 3021, bytesWritten: 2114 };
  docs.push(builder.connection(accepted, 'ingress', owner, anc, at(3700)), builder.connection(opened, 'egress', owner, anc, at(3700)));
  table.exit(4243, T0 + 7300_000);
  docs.push(builder.process(Action.processEnd, owner, anc, at(7300)));
  // The health block as agent/app/status.ts healthOf computes it (the app layer adds it to the heartbeat).
  const health = {
    status: 'degraded', problems: ['output siem is backoff (3 failed send(s), 120 queued)'], uptime_seconds: 86_400, queued_events: 120,
    oldest_queued_age_seconds: 42, outputs_failing: 1, dropped_total: 0, lost_total: 0, rules: 57, realtime: 'ebpf', policy_version: '2026-11-27.3',
  };
  // The relay watch's budget report (agent/watch/relay-watch.ts RelayBudgetReport), once a look went over it.
  const relayWatch = { max_per_look: 64, candidates: 180, deferred: 116, looks_over_budget: 3, last_over_budget: at(3600) };
  docs.push(builder.agentEvent({ action: Action.heartbeat, kind: 'metric', message: 'heartbeat', fields: { portwarden: { health, pipeline: { received: 10 }, relay_watch: relayWatch } } }));
  docs.push(builder.agentEvent({
    action: Action.configReloaded, message: 'portwarden config reloaded (SIGHUP): applied detect, outputs.siem',
    fields: { portwarden: { reload: { reason: 'SIGHUP', outcome: 'applied', applied: ['detect', 'outputs.siem'], restart_required: [], outputs_restarted: ['siem'], outputs_added: ['archive'], outputs_removed: [], rules: 58 } } },
  }));
  docs.push(builder.agentEvent({
    action: Action.configReloadFailed, severity: 47, message: 'portwarden config reload refused (/etc/portwarden/portwarden.yml: detect.allowlist[0]); still running on the previous config',
    fields: { portwarden: { reload: { reason: 'SIGHUP', outcome: 'refused', file: '/etc/portwarden/portwarden.yml', key_path: 'detect.allowlist[0]', expected: 'unknown key "colour"' } } },
  }));
  docs.push(builder.agentEvent({ action: Action.eventsLost, message: '3 events lost in a corrupt spool segment', severity: 73 }));
  return docs;
}
