import { randomUUID } from 'node:crypto';
import { Action, Dataset, ECS_VERSION, Kind, MODULE } from '../../agent/ecs/fields.js';
import type { EcsDocument } from '../../agent/ecs/document.js';
import type { OutboundEvent } from '../../transports/types.js';

/** Hand-built, realistic portwarden ECS documents for the Kafka tests and benchmark. */

const HOSTS = ['8f3c1b9e2a7d4c6b9e0f1a2b3c4d5e6f', '1a2b3c4d5e6f40718293a4b5c6d7e8f9', 'c0ffee00c0ffee00c0ffee00c0ffee00'];
let seq = 0;

function base(dataset: (typeof Dataset)[keyof typeof Dataset], kind: (typeof Kind)[keyof typeof Kind], action: string, hostIndex: number): EcsDocument {
  const now = new Date(Date.UTC(2026, 10, 27, 13, 0, 0) + seq).toISOString();
  const hostId = HOSTS[hostIndex % HOSTS.length] ?? 'unknown';
  seq += 1;
  return {
    '@timestamp': now,
    ecs: { version: ECS_VERSION },
    event: { id: randomUUID(), kind, action, dataset, module: MODULE, created: now, sequence: seq },
    agent: { type: 'portwarden', name: `web-${String(hostIndex)}`, id: `agent-${hostId.slice(0, 8)}`, version: '0.1.0' },
    host: { id: hostId, name: `web-${String(hostIndex)}`, hostname: `web-${String(hostIndex)}`, os: { type: 'linux', family: 'debian' }, architecture: 'x86_64' },
    data_stream: { type: 'logs', dataset, namespace: 'default' },
  };
}

/** A listener opened by nginx under systemd. */
export function listenerEvent(hostIndex = 0, port = 8080): EcsDocument {
  const doc = base(Dataset.network, Kind.event, Action.listeningStarted, hostIndex);
  doc.event.category = ['network'];
  doc.event.type = ['start'];
  doc.message = `nginx listening on 0.0.0.0:${String(port)}/tcp`;
  doc.destination = { ip: '0.0.0.0', port };
  doc.server = { ip: '0.0.0.0', port };
  doc.network = { transport: 'tcp', type: 'ipv4', iana_number: '6' };
  doc.process = {
    pid: 1312, name: 'nginx', executable: '/usr/sbin/nginx', command_line: 'nginx: master process /usr/sbin/nginx -g daemon on;',
    args: ['/usr/sbin/nginx', '-g', 'daemon on;'], entity_id: 'q1Y7mJbXyq0w3FZ2c8VbS8kqkR0',
    parent: { pid: 1, name: 'systemd', executable: '/usr/lib/systemd/systemd' },
  };
  doc.user = { id: '0', name: 'root' };
  doc.related = { ip: ['0.0.0.0'], user: ['root'] };
  return doc;
}

/** An alert: a shell listening on a high port. */
export function alertEvent(hostIndex = 0): EcsDocument {
  const doc = base(Dataset.alerts, Kind.alert, Action.unusualListener, hostIndex);
  doc.event.category = ['process', 'intrusion_detection', 'network'];
  doc.event.type = ['info'];
  doc.event.severity = 73;
  doc.event.risk_score = 73;
  doc.event.reason = 'bash listens on 0.0.0.0:4444/tcp';
  doc.message = 'Shell listening on a network port';
  doc.rule = { id: 'PW-L-003', name: 'Shell listening on a network port', ruleset: 'portwarden' };
  doc.threat = { framework: 'MITRE ATT&CK', technique: [{ id: 'T1059.004', name: 'Unix Shell' }] };
  doc.process = { pid: 4242, name: 'bash', executable: '/usr/bin/bash', parent: { pid: 4100, name: 'python3' } };
  return doc;
}

/** A process start. */
export function processEvent(hostIndex = 0): EcsDocument {
  const doc = base(Dataset.process, Kind.event, Action.processExec, hostIndex);
  doc.event.category = ['process'];
  doc.event.type = ['start'];
  doc.process = { pid: 5150, name: 'curl', executable: '/usr/bin/curl', args: ['curl', '-s', 'http://127.0.0.1/'], parent: { pid: 5100, name: 'bash' } };
  return doc;
}

/** The document with a `message` padded to make its JSON about `bytes` long. */
export function bigEvent(bytes: number, hostIndex = 0): EcsDocument {
  const doc = listenerEvent(hostIndex);
  doc.message = 'x'.repeat(Math.max(0, bytes - JSON.stringify(doc).length));
  return doc;
}

export const outbound = (doc: EcsDocument): OutboundEvent => ({ doc, json: JSON.stringify(doc) });
