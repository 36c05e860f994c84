import type { EcsDocument } from '../ecs/document.js';
import { getField, stringField } from '../ecs/document.js';
import { F } from '../ecs/fields.js';
import { threatRefs } from './attack.js';
import type { Baseline } from './baseline.js';
import { BUILTIN_VERSION } from './listener-detectors.js';
import { SEVERITY } from './types.js';
import type { DetectContext, Detector, Hit, RuleMeta } from './types.js';

/** Ports from here up are usually ephemeral or dynamic (RPC, debuggers): learned as one bucket. */
export const EPHEMERAL_FROM = 32768;


function meta(id: string, family: 'listener' | 'process', name: string, description: string, tactic: string, technique: string): RuleMeta {
  return {
    id, name, description, family,
    ruleset: 'portwarden-baseline',
    version: BUILTIN_VERSION,
    os: [],
    severity: SEVERITY.low,
    riskScore: SEVERITY.low,
    threat: threatRefs(tactic, technique),
    references: [],
  };
}

const norm = (s: string, ci: boolean) => (ci ? s.toLowerCase() : s);

/** (program, port, scope) never seen on this host after the learning window. */
export class NewListenerDetector implements Detector {
  readonly meta = meta('pw-baseline-new-listener', 'listener', 'First-seen listener after baseline learning',
    'This host never had this program listening on this port with this exposure during or since its learning window.', 'TA0011', 'T1571');

  constructor(private readonly baseline: Baseline) {}

  /** The learned key, also used by `portwarden baseline` exports. */
  static key(doc: EcsDocument, ci: boolean): string {
    const program = stringField(doc, F.processExecutable) ?? stringField(doc, F.processName) ?? '?';
    const port = Number(getField(doc, F.destinationPort));
    const transport = stringField(doc, F.networkTransport) ?? 'tcp';
    const scope = stringField(doc, F.listenerScope) ?? 'any';
    return `${norm(program, ci)}|${transport}/${port >= EPHEMERAL_FROM ? 'ephemeral' : String(port)}|${scope}`;
  }

  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined {
    const hostId = stringField(doc, F.hostId) ?? 'unknown';
    const key = NewListenerDetector.key(doc, ctx.ci);
    if (this.baseline.observe(hostId, 'listeners', key, ctx.now) !== 'new') return undefined;
    return { reason: `first time after the learning window that this host has ${key.replace(/\|/g, ' ')} (program transport/port scope)` };
  }
}

/** (parent name -> child name) never seen on this host after the learning window. */
export class RarePairDetector implements Detector {
  readonly meta = meta('pw-baseline-rare-parent-child', 'process', 'First-seen parent-child pair after baseline learning',
    'This host never saw this parent program start this child program during or since its learning window.', 'TA0002', 'T1059');

  constructor(private readonly baseline: Baseline) {}

  test(doc: EcsDocument, ctx: DetectContext): Hit | undefined {
    const parent = stringField(doc, F.processParentName);
    const child = stringField(doc, F.processName);
    if (parent === undefined || child === undefined) return undefined;
    const hostId = stringField(doc, F.hostId) ?? 'unknown';
    const key = `${norm(parent, ctx.ci)}>${norm(child, ctx.ci)}`;
    if (this.baseline.observe(hostId, 'pairs', key, ctx.now) !== 'new') return undefined;
    return { reason: `first time after the learning window that ${parent} started ${child} on this host` };
  }
}
