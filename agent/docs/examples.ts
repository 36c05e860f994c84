import { DocumentBuilder } from '../ecs/builder.js';
import type { BuilderClock } from '../ecs/builder.js';
import { agentVersion } from '../ecs/agent-info.js';
import type { EcsDocument } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { HostContext } from '../ecs/host.js';
import { ProcessTable } from '../lineage/process-table.js';
import type { ListenerRecord, ProcessRecord, Snapshot } from '../sources/types.js';

/**
 * What the README's example events are built from: one listener of a real host, its owner and the
 * owner's ancestors, and the host context, as the agent's source and host reader returned them
 * (`npm run docs -- --capture` records it from the host it runs on: docs/examples/host-snapshot.json).
 */
export interface ExampleSnapshot {
  capturedAt: string;
  host: HostContext;
  listener: ListenerRecord;
  /** The owner first, then its ancestors up to the oldest one the source saw, pid 1 left out. */
  processes: ProcessRecord[];
}

/** The agent id of the examples (a real agent's is random, kept in its state dir). */
const EXAMPLE_AGENT_ID = '0192f0c4-5d1e-7a3b-9c2d-4e5f60718293';
const EXAMPLE_EPHEMERAL_ID = '6b1c3e2a-8f4d-4c5b-9a7e-0d2f1b3c4a5e';

/** Which listener a capture picks: a well-known daemon's when there is one, else the first owned. */
const PREFERRED = ['sshd', 'rsyslogd', 'nginx', 'apache2', 'httpd', 'postgres', 'redis-server', 'named', 'chronyd', 'cupsd'];

/** Picks the example's listener, owner and ancestry from a real poll. */
export function exampleSnapshot(host: HostContext, snap: Snapshot): ExampleSnapshot {
  const owned = snap.listeners.filter((l) => l.owners[0] !== undefined && snap.processes.has(l.owners[0]));
  const rank = (l: ListenerRecord) => {
    const i = PREFERRED.indexOf(snap.processes.get(l.owners[0] ?? -1)?.name ?? '');
    return i === -1 ? PREFERRED.length : i;
  };
  const listener = [...owned].sort((a, b) => rank(a) - rank(b) || a.port - b.port)[0];
  if (listener === undefined) throw new Error('no listener with a known owner on this host (run as root?)');
  const processes: ProcessRecord[] = [];
  // pid 1 is left out: in a VM or container sandbox it is the sandbox's own init, not the host's.
  for (let p = snap.processes.get(listener.owners[0] ?? -1); p !== undefined && p.pid !== 1 && processes.length < 16; p = snap.processes.get(p.ppid)) {
    processes.push(p);
  }
  return { capturedAt: snap.takenAt.toISOString(), host, listener, processes };
}

/**
 * The example events: the snapshot replayed through the agent's real builders and process table,
 * with a fixed clock (the capture time) and ids numbered from it, so the same snapshot always gives
 * the same documents. A listener present at start, and its owner's process event.
 */
export function exampleEvents(s: ExampleSnapshot): EcsDocument[] {
  const t = Date.parse(s.capturedAt);
  let n = 0;
  const clock: BuilderClock = {
    now: () => t,
    id: (now) => {
      const hex = now.toString(16).padStart(12, '0');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-${(++n).toString(16).padStart(12, '0')}`;
    },
  };
  const agent = { type: 'portwarden' as const, name: s.host.hostname, id: EXAMPLE_AGENT_ID, version: agentVersion(), ephemeral_id: EXAMPLE_EPHEMERAL_ID };
  const builder = new DocumentBuilder(s.host, agent, 'default', clock);
  const table = new ProcessTable({ hostId: s.host.id, bootId: s.host.boot.id });
  for (const p of [...s.processes].reverse()) table.upsert(p);
  const owner = table.get(s.listener.owners[0] ?? -1);
  const ancestors = owner === undefined ? [] : table.ancestors(owner);
  return [
    builder.listener(s.listener, owner, ancestors, { action: Action.listeningExisting, timestamp: s.capturedAt }),
    ...(owner === undefined ? [] : [builder.process(Action.alreadyRunning, owner, ancestors, s.capturedAt)]),
  ];
}

/** The README section: each example as a JSON block. */
export function exampleSection(s: ExampleSnapshot): string {
  const os = s.host.os;
  const intro = `Built by the agent's own builders from a listener of a real ${os.name ?? os.type} ${os.version ?? ''} host `
    + `(\`${s.listener.transport}\` port ${s.listener.port}, captured ${s.capturedAt}; docs/examples/host-snapshot.json).`;
  return [intro.replace(/ {2,}/g, ' '), ...exampleEvents(s).map((d) => `\n\`${d.event.action}\`:\n\n\`\`\`json\n${JSON.stringify(d, null, 2)}\n\`\`\``)].join('\n');
}
