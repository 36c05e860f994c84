import type { EcsDocument } from '../../agent/ecs/document.js';
import type { OutboundEvent } from '../../transports/types.js';
import type { TransportContext } from '../../transports/types.js';
import { silentLogger } from '../../agent/log/logger.js';

/** Realistic portwarden documents built by hand (the shape DESIGN.md describes). */
export function listenerEvent(over: { seq?: number; name?: string; commandLine?: string; port?: number; ip?: string } = {}): EcsDocument {
  const seq = over.seq ?? 1;
  return {
    '@timestamp': '2026-11-27T13:05:01.123456Z',
    message: `nc listening on tcp ${over.ip ?? '0.0.0.0'}:${over.port ?? 4444}`,
    ecs: { version: '9.4.0' },
    event: {
      id: `0193c5a0-0000-7000-8000-${String(seq).padStart(12, '0')}`, kind: 'event', category: ['network'], type: ['start'],
      action: 'listening_started', dataset: 'portwarden.network', module: 'portwarden',
      created: '2026-11-27T13:05:01.200Z', sequence: seq,
    },
    agent: { type: 'portwarden', name: 'portwarden', id: 'a1b2', version: '0.1.0', ephemeral_id: 'e1' },
    host: { id: 'h-1', name: 'web-01.example.org', hostname: 'web-01', os: { type: 'linux' } },
    destination: { ip: over.ip ?? '0.0.0.0', port: over.port ?? 4444 },
    server: { ip: over.ip ?? '0.0.0.0', port: over.port ?? 4444 },
    network: { transport: 'tcp', type: 'ipv4', iana_number: '6' },
    process: {
      pid: 31337, entity_id: 'ZW50aXR5', name: over.name ?? 'nc', executable: '/usr/bin/nc.openbsd',
      command_line: over.commandLine ?? 'nc -lvnp 4444', args: ['nc', '-lvnp', '4444'],
      parent: { pid: 1200, name: 'bash', executable: '/usr/bin/bash', entity_id: 'cGFyZW50' },
    },
    user: { id: '1000', name: 'alice' },
    portwarden: { listener: { scope: 'any' } },
  };
}

export function alertEvent(severity = 73): EcsDocument {
  const base = listenerEvent({ seq: 2 });
  return {
    ...base,
    message: 'Shell-like program "nc" listening on all interfaces',
    event: {
      ...base.event, kind: 'alert', category: ['process', 'intrusion_detection', 'network'], type: ['info'],
      action: 'unusual_listener', dataset: 'portwarden.alerts', severity, risk_score: 73, reason: 'nc listens on 0.0.0.0:4444',
    },
    rule: { id: 'PW-L-003', name: 'Network utility listening', ruleset: 'portwarden-listeners', version: '1' },
    threat: { framework: 'MITRE ATT&CK', technique: { id: ['T1059'] } },
  };
}

export function outbound(doc: EcsDocument): OutboundEvent {
  return { doc, json: JSON.stringify(doc) };
}

export function testContext(over: Partial<TransportContext> = {}): TransportContext {
  return {
    name: 'syslog', logger: silentLogger, stateDir: '/nonexistent', configFile: 'portwarden.yaml',
    agentPid: 4242, hostName: 'fallback-host', ...over,
  };
}
