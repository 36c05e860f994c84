import type { EcsDocument } from '../ecs/document.js';
import { getField } from '../ecs/document.js';
import { F } from '../ecs/fields.js';
import { threatRefs } from './attack.js';
import { sensitiveEntry } from './port-catalogue.js';
import type { PortEntry } from './port-catalogue.js';
import { SEVERITY } from './types.js';
import type { DetectContext, Detector, Hit, RuleMeta, Scope } from './types.js';

export const BUILTIN_RULESET = 'portwarden-builtin';
export const BUILTIN_VERSION = '1';

/** Severity that grows with how far the listener reaches. */
const BY_SCOPE: Record<'exposed' | 'unexpected' | 'suspicious', Partial<Record<Scope, number>>> = {
  exposed: { private: SEVERITY.medium, link_local: SEVERITY.medium, any: SEVERITY.high, public: SEVERITY.high },
  unexpected: { loopback: SEVERITY.low, private: SEVERITY.medium, link_local: SEVERITY.medium, any: SEVERITY.high, public: SEVERITY.high },
  suspicious: { loopback: SEVERITY.medium, private: SEVERITY.high, link_local: SEVERITY.high, any: SEVERITY.high, public: SEVERITY.high },
};

function meta(id: string, name: string, description: string, kind: keyof typeof BY_SCOPE, tactic: string, technique: string): RuleMeta {
  return {
    id, name, description,
    ruleset: BUILTIN_RULESET,
    version: BUILTIN_VERSION,
    family: 'listener',
    os: [],
    severity: SEVERITY.medium,
    riskScore: SEVERITY.medium,
    severityByScope: BY_SCOPE[kind],
    threat: threatRefs(tactic, technique),
    references: ['https://attack.mitre.org/techniques/T1571/'],
  };
}

function listenerFacts(doc: EcsDocument) {
  const port = getField(doc, F.destinationPort);
  const transport = getField(doc, F.networkTransport);
  const scope = getField(doc, F.listenerScope);
  const name = getField(doc, F.processName);
  const addr = getField(doc, F.destinationIp) ?? getField(doc, F.destinationAddress);
  return {
    port: typeof port === 'number' ? port : Number(port),
    transport: typeof transport === 'string' ? transport : 'tcp',
    scope: (typeof scope === 'string' ? scope : 'any') as Scope,
    owner: typeof name === 'string' ? name : undefined,
    where: `${typeof addr === 'string' ? addr : '?'}:${String(port)}/${typeof transport === 'string' ? transport : 'tcp'}`,
  };
}

/** Sensitive service listening beyond loopback, for services that answer unauthenticated by default. */
class SensitiveExposed implements Detector {
  readonly meta = meta('pw-listener-sensitive-exposed', 'Sensitive service exposed beyond loopback',
    'A service that answers without authentication by default (catalogue: detect.sensitive_ports) listens beyond loopback.',
    'exposed', 'TA0001', 'T1133');

  constructor(private readonly catalogue: readonly PortEntry[]) {}

  test(doc: EcsDocument): Hit | undefined {
    const l = listenerFacts(doc);
    const e = sensitiveEntry(this.catalogue, l.port, l.transport);
    if (e?.exposure !== 'alert' || l.scope === 'loopback') return undefined;
    return { reason: `${e.service} port ${l.where} is reachable with scope ${l.scope} (owner ${l.owner ?? 'unknown'}); ${e.service} answers without authentication by default`, threat: threatRefs(e.tactic, e.technique) };
  }
}

/** Sensitive port owned by a program that is not the service expected there on this OS. */
class UnexpectedOwner implements Detector {
  readonly meta = meta('pw-listener-sensitive-unexpected-owner', 'Sensitive port held by an unexpected program',
    'A well-known service port is held by a program that is not the service expected on this OS (port impersonation, relays, fake services).',
    'unexpected', 'TA0008', 'T1021');

  constructor(private readonly catalogue: readonly PortEntry[]) {}

  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined {
    const l = listenerFacts(doc);
    const e = sensitiveEntry(this.catalogue, l.port, l.transport);
    if (e === undefined || l.owner === undefined || ctx.os === undefined) return undefined;
    const expected = e.expected[ctx.os];
    if (expected === undefined) return undefined;
    const owner = l.owner.toLowerCase();
    if (expected.some((x) => x.toLowerCase() === owner)) return undefined;
    return { reason: `${e.service} port ${l.where} is held by ${l.owner}; expected on ${ctx.os}: ${expected.join(', ')} (technique ${e.technique})`, threat: threatRefs(e.tactic, e.technique) };
  }
}

/** Listener on a port that bind shells, RATs and C2 frameworks favour. */
class SuspiciousPort implements Detector {
  readonly meta = meta('pw-listener-suspicious-port', 'Listener on a known backdoor or C2 port',
    'A listener on a port that bind shells, RATs and C2 frameworks default to (detect.suspicious_ports).',
    'suspicious', 'TA0011', 'T1571');

  constructor(private readonly ports: ReadonlySet<number>) {}

  test(doc: EcsDocument): Hit | undefined {
    const l = listenerFacts(doc);
    if (!this.ports.has(l.port)) return undefined;
    return { reason: `port ${l.port} (${l.where}, scope ${l.scope}, owner ${l.owner ?? 'unknown'}) is a common bind-shell / C2 port` };
  }
}

/** The catalogue-driven listener detectors. */
export function listenerDetectors(catalogue: readonly PortEntry[], suspicious: readonly number[]): Detector[] {
  return [new SensitiveExposed(catalogue), new UnexpectedOwner(catalogue), new SuspiciousPort(new Set(suspicious))];
}
