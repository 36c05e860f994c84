import assert from 'node:assert/strict';
import { ecsProblems } from '../../../helpers/ecs-validate.js';
import { DocumentBuilder } from '../../../../agent/ecs/builder.js';
import type { EcsDocument } from '../../../../agent/ecs/document.js';
import type { AgentInfo } from '../../../../agent/ecs/agent-info.js';
import type { HostContext } from '../../../../agent/ecs/host.js';
import { Baseline } from '../../../../agent/detect/baseline.js';
import { detectSchema } from '../../../../agent/detect/config.js';
import { createEngine } from '../../../../agent/detect/engine.js';
import { loadRules } from '../../../../agent/detect/load.js';
import type { DetectionEngine } from '../../../../agent/detect/engine.js';
import { ProcessTable } from '../../../../agent/lineage/process-table.js';
import type { ProcessNode } from '../../../../agent/lineage/process-table.js';
import { silentLogger } from '../../../../agent/log/logger.js';
import type { ProcessRecord } from '../../../../agent/sources/types.js';

export type Os = 'linux' | 'windows';

/** Real DocumentBuilder + ProcessTable over records the test invents: the documents the watcher would build. */
export class Harness {
  readonly builder: DocumentBuilder;
  readonly table: ProcessTable;
  private pid = 100;
  private clock = Date.parse('2026-01-05T10:00:00.000Z');

  constructor(readonly os: Os) {
    const host: HostContext = {
      id: `host-${os}`, name: `${os}-box`, hostname: `${os}-box`, architecture: 'x86_64',
      os: { type: os, platform: os === 'windows' ? 'win32' : 'linux' }, ip: ['10.1.2.3'], mac: [], boot: { id: 'boot-1' },
    };
    const agent: AgentInfo = { type: 'portwarden', name: `${os}-box`, id: '0190a000-0000-7000-8000-000000000001', version: '0.1.0', ephemeral_id: '0190a000-0000-7000-8000-000000000002' };
    this.builder = new DocumentBuilder(host, agent);
    this.table = new ProcessTable({ hostId: host.id, bootId: 'boot-1' });
  }

  /** Starts a process under `parent` (its start time follows the parent's). */
  spawn(parent: ProcessNode | undefined, r: Partial<ProcessRecord> & { name: string }): ProcessNode {
    this.clock += 1000;
    const pid = ++this.pid;
    const rec: ProcessRecord = {
      pid, ppid: parent?.record.pid ?? 1, startKey: String(this.clock), start: new Date(this.clock).toISOString(),
      ...r,
    };
    return this.table.upsert(rec).node;
  }

  /** A chain of processes, root first; returns the last one. */
  chain(...recs: (Partial<ProcessRecord> & { name: string })[]): ProcessNode {
    let node: ProcessNode | undefined;
    for (const r of recs) node = this.spawn(node, r);
    if (node === undefined) throw new Error('empty chain');
    return node;
  }

  processDoc(node: ProcessNode, action: 'exec' | 'start' | 'already_running' = this.os === 'windows' ? 'start' : 'exec'): EcsDocument {
    return this.builder.process(action, node, this.table.ancestors(node));
  }

  listenerDoc(owner: ProcessNode | undefined, address: string, port: number, transport: 'tcp' | 'udp' = 'tcp'): EcsDocument {
    return this.builder.listener(
      { netns: '4026531840', transport, family: address.includes(':') ? 'ipv6' : 'ipv4', address, port, inode: 4242, owners: owner === undefined ? [] : [owner.record.pid] },
      owner, owner === undefined ? [] : this.table.ancestors(owner), { action: 'listening_started' },
    );
  }

  engine(config: unknown = {}, baseline?: Baseline, configFile = '(test)'): DetectionEngine {
    const c = detectSchema.parse(config);
    return createEngine({ config: c, configFile, builder: this.builder, logger: silentLogger, baseline, rules: loadRules(c, configFile) });
  }

  baseline(learningMs = 3600_000): Baseline {
    return new Baseline({ learningMs, maxEntries: 1000, logger: silentLogger });
  }
}

/** Rule ids of the alerts. */
export const ids = (alerts: EcsDocument[]): string[] => alerts.map((a) => (a.rule as { id: string }).id).sort();

/** Rule ids the engine raises for the last process of a fresh chain; every alert must be valid ECS. */
export function firer(h: Harness, engine: DetectionEngine): (...chain: (Partial<ProcessRecord> & { name: string })[]) => string[] {
  return (...chain) => {
    const alerts = engine.evaluate(h.processDoc(h.chain(...chain)));
    for (const a of alerts) assert.deepEqual(ecsProblems(a), [], `alert ${JSON.stringify(a.rule)} is valid ECS`);
    return ids(alerts);
  };
}
