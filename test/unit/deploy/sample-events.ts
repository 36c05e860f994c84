/**
 * Every event type portwarden emits, built by the real agent code (DocumentBuilder, ProcessTable,
 * the pipeline's Telemetry), for checking the shipped SIEM content against. Alerts come from the
 * detection engine when `agent/detect/index.js` exports `createDetectionEngine`; until then they
 * are built from the same base with the alert fields DESIGN.md specifies (see `alerts.ts`).
 */
import { DocumentBuilder } from '../../../agent/ecs/builder.js';
import { connectionDocument } from '../../../agent/ecs/connection.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { Action, Kind } from '../../../agent/ecs/fields.js';
import type { HostContext } from '../../../agent/ecs/host.js';
import { ProcessTable } from '../../../agent/lineage/process-table.js';
import type { ProcessNode } from '../../../agent/lineage/process-table.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { Telemetry } from '../../../agent/pipeline/telemetry.js';
import type { PipelineStats } from '../../../agent/pipeline/types.js';
import type { ListenerRecord, ProcessRecord } from '../../../agent/sources/types.js';
import { healthOf } from '../../../agent/app/status.js';
import { alertDocs } from './alerts.js';

const LINUX_HOST: HostContext = {
  id: '6f1c2a9e0b7d4c3e8a5f1d2b3c4e5f60', name: 'web-01.example.internal', hostname: 'web-01', architecture: 'x86_64',
  os: { type: 'linux', family: 'debian', name: 'Debian GNU/Linux', version: '12', kernel: '6.1.0-28-amd64', platform: 'debian', full: 'Debian GNU/Linux 12' },
  ip: ['10.1.2.3', 'fd00::3'], mac: ['02-42-AC-11-00-02'], boot: { id: '0d7c1f6e-2f7b-4a51-9d0e-3b8d1c2e4f50' },
};
const WINDOWS_HOST: HostContext = {
  id: '4C4C4544-0042-3510-8052-B4C04F4E3232', name: 'dc-02.corp.example', hostname: 'dc-02', architecture: 'x64',
  os: { type: 'windows', name: 'Windows Server 2022 Datacenter', version: '10.0.20348', platform: 'windows', full: 'Windows Server 2022 Datacenter 10.0.20348' },
  ip: ['10.9.0.2'], mac: ['00-15-5D-01-02-03'], boot: { id: 'boot-1732700000' },
};

const agent = (name: string) => ({ type: 'portwarden' as const, name, id: '0192f3a4-5b6c-7d8e-9f00-112233445566', version: '0.1.0', ephemeral_id: '0192f3a4-0000-7000-8000-000000000001' });

const t = (s: number) => new Date(Date.UTC(2026, 10, 27, 8, 0, s)).toISOString();

function proc(p: Partial<ProcessRecord> & Pick<ProcessRecord, 'pid' | 'ppid' | 'name'>, startSecond: number): ProcessRecord {
  return { startKey: String(1000 + startSecond), start: t(startSecond), ...p };
}

type Listener = ListenerRecord & { zone?: string };

function listener(l: Partial<Listener> & Pick<ListenerRecord, 'transport' | 'family' | 'address' | 'port'>): Listener {
  return { netns: '4026531840', inode: 0, owners: [], ...l };
}

export interface Samples {
  /** Every document, each tagged with what it is. */
  all: EcsDocument[];
  /** True when the alerts came from the real detection engine. */
}

/** What the detection engine is fed to raise the sample alerts (see alerts.ts). */
export interface Triggers { listener: EcsDocument; processes: EcsDocument[]; connections: EcsDocument[] }

function linuxEvents(b: DocumentBuilder): { docs: EcsDocument[]; triggers: Triggers } {
  const table = new ProcessTable({ hostId: LINUX_HOST.id, bootId: LINUX_HOST.boot.id });
  const up = (r: ProcessRecord): ProcessNode => table.upsert(r).node;
  const user = { uid: 33, userName: 'www-data', pgid: 100, sid: 100, netns: '4026531840' };
  up(proc({ pid: 1, ppid: 0, name: 'systemd', executable: '/usr/lib/systemd/systemd', args: ['/sbin/init'], commandLine: '/sbin/init', uid: 0, userName: 'root', workingDirectory: '/' }, 0));
  up(proc({ pid: 100, ppid: 1, name: 'nginx', executable: '/usr/sbin/nginx', args: ['nginx: master process /usr/sbin/nginx'], commandLine: 'nginx: master process /usr/sbin/nginx', uid: 0, userName: 'root', workingDirectory: '/' }, 1));
  up(proc({ pid: 101, ppid: 100, name: 'nginx', executable: '/usr/sbin/nginx', args: ['nginx: worker process'], commandLine: 'nginx: worker process', workingDirectory: '/', ...user }, 2));
  const sh = up(proc({ pid: 200, ppid: 101, name: 'sh', executable: '/usr/bin/dash', args: ['sh', '-c', 'nc -lvnp 4444 -e /bin/sh'], commandLine: 'sh -c nc -lvnp 4444 -e /bin/sh', workingDirectory: '/var/www/html', ...user }, 3));
  const nc = up(proc({ pid: 201, ppid: 200, name: 'nc', executable: '/tmp/.x/nc', executableDeleted: true, args: ['nc', '-lvnp', '4444', '-e', '/bin/sh'], commandLine: 'nc -lvnp 4444 -e /bin/sh', workingDirectory: '/var/www/html', ...user }, 4));
  const sshd = up(proc({ pid: 300, ppid: 1, name: 'sshd', executable: '/usr/sbin/sshd', args: ['sshd: /usr/sbin/sshd -D'], commandLine: 'sshd: /usr/sbin/sshd -D', uid: 0, userName: 'root', workingDirectory: '/', containerId: 'a'.repeat(64) }, 1));
  const longArg = 'x'.repeat(40 * 1024);
  const java = up(proc({ pid: 400, ppid: 1, name: 'java', executable: '/usr/lib/jvm/bin/java', args: ['java', longArg], commandLine: `java ${longArg}`, uid: 1001, userName: 'app' }, 5));
  // A port forwarder run from /tmp: it accepted a client on 8443 and relays it to another host.
  const socat = up(proc({ pid: 500, ppid: 1, name: 'socat', executable: '/tmp/socat', args: ['socat', 'TCP-LISTEN:8443,fork', 'TCP:198.51.100.20:22'], commandLine: 'socat TCP-LISTEN:8443,fork TCP:198.51.100.20:22', workingDirectory: '/tmp', ...user }, 7));
  const nginxWorker = table.get(101);
  if (nginxWorker === undefined) throw new Error('lineage sample broken');

  const started = b.listener(listener({ transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 4444, inode: 91011, owners: [201], uid: 33 }), nc, table.ancestors(nc), { action: Action.listeningStarted, timestamp: t(6) });
  const docs = [
    b.process(Action.processExec, sh, table.ancestors(sh)),
    b.process(Action.processExec, nc, table.ancestors(nc)),
    b.process(Action.alreadyRunning, sshd, table.ancestors(sshd)),
    b.process(Action.alreadyRunning, java, table.ancestors(java)),
    started,
    b.listener(listener({ transport: 'tcp', family: 'ipv6', address: '::', port: 22, inode: 2222, owners: [300], uid: 0 }), sshd, table.ancestors(sshd), { action: Action.listeningExisting }),
    b.listener(listener({ transport: 'tcp', family: 'ipv6', address: '::', port: 22, inode: 2222, owners: [300], uid: 0 }), sshd, table.ancestors(sshd), { action: Action.listeningExisting, kind: Kind.state }),
    b.listener(listener({ transport: 'udp', family: 'ipv4', address: '127.0.0.1', port: 323, inode: 3333, uid: 107 }), undefined, [], { action: Action.listeningStarted }),
    b.listener(listener({ transport: 'tcp', family: 'ipv6', address: 'fe80::1', zone: 'eth0', port: 8080, inode: 4444, owners: [101], uid: 33 }), nginxWorker, table.ancestors(nginxWorker), { action: Action.listeningStarted }),
  ];
  table.exit(201, Date.parse(t(60)));
  docs.push(
    b.listener(listener({ transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 4444, inode: 91011, owners: [201], uid: 33 }), nc, table.ancestors(nc), { action: Action.listeningStopped, start: t(6), end: t(59) }),
    b.process(Action.processEnd, nc, table.ancestors(nc)),
  );
  // The shell under the web server connecting out (eBPF connect(), 3 more attempts folded by the
  // kernel's dedupe window), and one the kernel reported without an owner in the table.
  const attempts = [
    connectionDocument(b, { pid: 200, name: 'sh', netns: '4026531840', transport: 'tcp', family: 'ipv4', sourceAddress: '10.1.2.3', sourcePort: 48812, destinationAddress: '203.0.113.66', destinationPort: 4444, suppressed: 3, uid: 33 }, sh, table.ancestors(sh), t(5)),
    connectionDocument(b, { pid: 9999, name: 'curl', netns: '4026531840', transport: 'tcp', family: 'ipv6', sourceAddress: '', sourcePort: 0, destinationAddress: '2001:db8::53', destinationPort: 443, suppressed: 0, uid: 1001 }, undefined, [], t(5)),
  ];
  docs.push(...attempts);
  // socat's accepted connection and the one it opened, the bytes matching (what it read from the
  // client it wrote to 198.51.100.20, and back): the relay detector's byte proof.
  const connections = [
    b.connection({ pid: 500, netns: '4026531840', family: 'ipv4', localAddress: '10.1.2.3', localPort: 8443, remoteAddress: '203.0.113.7', remotePort: 51234, inode: 77001, bytesRead: 5120, bytesWritten: 20480 }, 'ingress', socat, table.ancestors(socat), t(8)),
    b.connection({ pid: 500, netns: '4026531840', family: 'ipv4', localAddress: '10.1.2.3', localPort: 40022, remoteAddress: '198.51.100.20', remotePort: 22, inode: 77002, bytesRead: 20480, bytesWritten: 5120 }, 'egress', socat, table.ancestors(socat), t(8)),
  ];
  docs.push(...connections);
  // nginx -> sh and sh -> nc (under a web server) are the parent-child triggers.
  return { docs, triggers: { listener: started, processes: docs.slice(0, 2), connections: [...attempts, ...connections] } };
}

function windowsEvents(b: DocumentBuilder): EcsDocument[] {
  const table = new ProcessTable({ hostId: WINDOWS_HOST.id, bootId: WINDOWS_HOST.boot.id });
  const sys = { userName: 'SYSTEM', userDomain: 'NT AUTHORITY', codeSignature: { exists: true, trusted: true, subjectName: 'Microsoft Windows' } };
  table.upsert(proc({ pid: 4, ppid: 0, name: 'System', ...sys }, 0));
  const services = table.upsert(proc({ pid: 700, ppid: 4, name: 'services.exe', executable: 'C:\\Windows\\System32\\services.exe', commandLine: 'C:\\Windows\\system32\\services.exe', originalFileName: 'services.exe', ...sys }, 1)).node;
  const svchost = table.upsert(proc({
    pid: 1180, ppid: 700, name: 'svchost.exe', executable: 'C:\\Windows\\System32\\svchost.exe', args: ['C:\\Windows\\System32\\svchost.exe', '-k', 'NetworkService', '-s', 'TermService'],
    commandLine: 'C:\\Windows\\System32\\svchost.exe -k NetworkService -s TermService', originalFileName: 'svchost.exe', sha256: 'f'.repeat(64),
    md5: 'e'.repeat(32), sha1: 'd'.repeat(40), integrityLevel: 'System', workingDirectory: 'C:\\Windows\\system32\\',
    pe: { description: 'Host Process for Windows Services', product: 'Microsoft® Windows® Operating System', company: 'Microsoft Corporation', fileVersion: '10.0.20348.1 (WinBuild.160101.0800)', imphash: 'c'.repeat(32) },
    ...sys, userName: 'NETWORK SERVICE',
  }, 2)).node;
  return [
    b.process(Action.processStart, svchost, table.ancestors(svchost)),
    b.process(Action.alreadyRunning, services, table.ancestors(services)),
    b.listener(listener({ netns: 'host', transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 3389, owners: [1180], serviceName: 'TermService', boundAt: t(2), firewall: 'allowed' }), svchost, table.ancestors(svchost), { action: Action.listeningStarted }),
  ];
}

function agentEvents(b: DocumentBuilder): EcsDocument[] {
  const out: EcsDocument[] = [];
  const stats: PipelineStats = {
    received: 1204, dropped: {}, lost: 0, spool: { bytes: 1_048_576, maxBytes: 1024 ** 3, segments: 1 },
    outputs: [{ name: 'kafka', type: 'kafka', state: 'running', received: 1204, sent: 1200, failed: { timeout: 1 }, dropped: {}, deadLettered: 0, retries: 1, queuedEvents: 4, queuedBytes: 4096, oldestQueuedAgeMs: 800 }],
  };
  // An agent whose output is behind a breaker and dropped events at the disk cap (the heartbeat an
  // "agents losing events" search finds), lastDelivery as lanes report it.
  const losing: PipelineStats = {
    received: 90_000, dropped: { queue_full: 312 }, lost: 0, spool: { bytes: 1024 ** 3, maxBytes: 1024 ** 3, segments: 64 },
    outputs: [{
      name: 'siem', type: 'http', state: 'open', received: 90_000, sent: 41_000, failed: { retryable: 880 }, dropped: { queue_full: 312 }, deadLettered: 0,
      retries: 880, queuedEvents: 48_688, queuedBytes: 71_000_000, oldestQueuedAgeMs: 5_400_000, lastDelivery: '2026-11-27T10:31:02.000Z',
    }],
  };
  const detection = { enabled: true, rules: 57, disabledRules: 0, allowlistEntries: 2, sensitivePorts: 0 };
  for (const [s, overlays] of [[stats, {}], [losing, { policy: '2026-11-27.3' }]] as const) {
    // The same health block the agent adds (agent/app/agent.ts), from the real healthOf.
    const health = healthOf({ startedMs: Date.parse('2026-11-27T08:00:00Z'), stats: s, detection, realtime: 'ebpf', overlays, lastReload: undefined }, Date.parse('2026-11-27T12:00:00Z'));
    const telemetry = new Telemetry({
      heartbeat: { enabled: false, schedule: '*/5 * * * *' }, stats: () => s, emit: (input) => { out.push(b.agentEvent(input)); },
      logger: silentLogger, lastFailure: () => '', warnIntervalMs: 30_000,
      // As agent/app/agent.ts adds them when eBPF reports connections: the kernel's counters; and,
      // once a relay look went over its budget, the relay watch's report (RelayBudgetReport).
      health: () => ({
        health, collector: { connections: { reported: 4_210, suppressed: 18_733, loopback: 902 } },
        ...(s === losing ? { relay_watch: { max_per_look: 64, candidates: 180, deferred: 116, looks_over_budget: 3, last_over_budget: '2026-11-27T11:58:00.000Z' } } : {}),
      }),
    });
    telemetry.heartbeat();
    // The losing agent's events_dropped, from the real aggregation.
    if (s === losing) telemetry.summarize();
  }
  // As agent/pipeline/pipeline.ts reports what start-up recovery found.
  out.push(b.agentEvent({
    action: Action.eventsLost, severity: 73, message: 'portwarden spool recovery: 12 event(s) lost, 1 segment(s) repaired, 0 cursor(s) reset',
    fields: { portwarden: { pipeline: { lost: 12, lost_by_output: { siem: 12 }, repaired_segments: ['00000000000000000007.seg'], unrepaired_segments: ['00000000000000000042.seg'], dropped_bytes: 4096, cursors_reset: [] } } },
  }));
  // Same input as agent/pipeline/dispatcher.ts gives when an output is paused.
  out.push(b.agentEvent({ action: Action.outputPaused, severity: 73, message: 'output kafka paused: SASL authentication failed', fields: { portwarden: { output: { name: 'kafka', type: 'kafka', reason: 'SASL authentication failed' } } } }));
  return out;
}

export function buildSamples(stateDir: string): Promise<Samples> {
  const lb = new DocumentBuilder(LINUX_HOST, agent('web-01'));
  const wb = new DocumentBuilder(WINDOWS_HOST, agent('dc-02'));
  const linux = linuxEvents(lb);
  const alerts = alertDocs(lb, linux.triggers, stateDir);
  return Promise.resolve({ all: [...linux.docs, ...windowsEvents(wb), ...agentEvents(lb), ...alerts] });
}
