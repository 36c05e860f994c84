import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { startAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { createNetns, startListenerChain } from '../../helpers/listeners.js';
import { waitFor } from '../../helpers/wait.js';

const ownNetns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1];

function findListener(docs: EcsDocument[], action: string, transport: string, port: number): EcsDocument | undefined {
  return docs.find((d) => d.event.action === action && getField(d, 'network.transport') === transport && getField(d, 'destination.port') === port);
}

test('run: real listeners under webapp -> sh -> python3, in two namespaces, start and stop', async (t) => {
  const agent = startAgent('events: { process: true }\ndetect: { enabled: false }\n');
  t.after(() => agent.stop());
  // The agent is watching once its first inventory (listening_existing) is out.
  await waitFor('the first inventory', () => agent.events().find((d) => d.event.action === 'listening_existing'), 30_000);

  const chain = await startListenerChain('webapp', ['tcp:0.0.0.0:0', 'tcp:127.0.0.1:0', 'tcp6:[::]:0', 'udp:127.0.0.1:0']);
  t.after(() => { chain.kill(); });
  const ns = createNetns('pwe2e');
  t.after(() => { ns.remove(); });
  const inNs = await startListenerChain('nsapp', ['tcp:0.0.0.0:0'], ns.name);
  t.after(() => { inNs.kill(); });

  const [any4, lo4, any6, udp] = chain.opened.map((o) => o.port);
  const nsPort = inNs.opened[0]?.port ?? 0;
  const expected: [string, number | undefined, string, string, string][] = [
    ['tcp', any4, '0.0.0.0', 'ipv4', 'any'],
    ['tcp', lo4, '127.0.0.1', 'ipv4', 'loopback'],
    ['tcp', any6, '::', 'ipv6', 'any'],
    ['udp', udp, '127.0.0.1', 'ipv4', 'loopback'],
  ];
  const docs = await waitFor('listening_started for every listener', () => {
    const all = agent.events();
    const ok = expected.every(([tr, p]) => findListener(all, 'listening_started', tr, p ?? -1) !== undefined)
      && findListener(all, 'listening_started', 'tcp', nsPort) !== undefined;
    return ok ? all : undefined;
  }, 30_000);

  const byEntity = new Map(docs.filter((d) => d.event.dataset === 'portwarden.process').map((d) => [getField(d, 'process.entity_id'), d]));
  for (const [transport, port, ip, type, scope] of expected) {
    const d = findListener(docs, 'listening_started', transport, port ?? -1);
    assert.ok(d);
    const what = `${transport}/${ip}:${port}`;
    assert.equal(getField(d, 'destination.ip'), ip, what);
    assert.equal(getField(d, 'server.port'), port, what);
    assert.equal(getField(d, 'network.type'), type, what);
    assert.equal(getField(d, 'portwarden.listener.scope'), scope, what);
    assert.equal(getField(d, 'portwarden.listener.netns'), ownNetns, what);
    assert.equal(getField(d, 'process.name'), 'python3', what);
    assert.equal(getField(d, 'process.parent.name'), 'sh', what);
    const lineage = getField(d, 'portwarden.lineage') as { name: string; entity_id: string }[];
    assert.deepEqual(lineage.slice(0, 2).map((a) => a.name), ['sh', 'webapp'], what);
    const ancestry = getField(d, 'process.Ext.ancestry') as string[];
    assert.equal(ancestry[0], getField(d, 'process.parent.entity_id'));
    assert.equal(ancestry[1], lineage[1]?.entity_id);
    // Parent and child ids join: the parent's own process event carries the same entity id.
    const parentEvent = byEntity.get(getField(d, 'process.parent.entity_id'));
    assert.ok(parentEvent, `no process event for the parent of ${what}`);
    assert.equal(getField(parentEvent, 'process.name'), 'sh');
    assert.equal(getField(parentEvent, 'process.parent.entity_id'), ancestry[1]);
    assert.equal(getField(d, 'process.pid'), getField(byEntity.get(getField(d, 'process.entity_id')) ?? {}, 'process.pid'));
    assert.deepEqual(ecsProblems(d), [], what);
  }
  const nsDoc = findListener(docs, 'listening_started', 'tcp', nsPort);
  assert.ok(nsDoc);
  assert.notEqual(getField(nsDoc, 'portwarden.listener.netns'), ownNetns);
  assert.equal(getField(nsDoc, 'process.name'), 'python3');
  assert.equal((getField(nsDoc, 'portwarden.lineage') as { name: string }[])[1]?.name, 'nsapp');

  chain.kill();
  const stopped = await waitFor('listening_stopped', () => findListener(agent.events(), 'listening_stopped', 'tcp', any4 ?? -1), 30_000);
  assert.equal(getField(stopped, 'event.type.0') ?? (stopped.event.type ?? [])[0], 'end');
  assert.ok((stopped.event.duration ?? 0) > 0, 'listening_stopped carries a duration');
  assert.equal(stopped.event.start, findListener(docs, 'listening_started', 'tcp', any4 ?? -1)?.['@timestamp']);
  assert.deepEqual(ecsProblems(stopped), []);
  const ended = await waitFor('process end', () => agent.events().find((d) => d.event.action === 'end' && getField(d, 'process.name') === 'python3'), 30_000);
  assert.deepEqual(ecsProblems(ended), []);

  assert.equal(await agent.stop(), 0, agent.stderr());
  for (const d of agent.events()) assert.deepEqual(ecsProblems(d), [], `${d.event.action}: ${JSON.stringify(ecsProblems(d))}`);
});
