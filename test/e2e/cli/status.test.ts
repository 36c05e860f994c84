import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/app/status.js';
import { getField } from '../../../agent/ecs/document.js';
import { readNdjson, startAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { waitFor } from '../../helpers/wait.js';
import { cliPath } from '../../../testkit/paths.js';

type StatusJson = AgentStatus & { running: boolean; exit_code: number };

function status(stateDir: string): { code: number | null; json: StatusJson } {
  const r = spawnSync(process.execPath, [cliPath, 'status', '--state-dir', stateDir, '--json'], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, json: JSON.parse(r.stdout) as StatusJson };
}

/** A loopback port nothing listens on (bound by the OS, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  const addr = srv.address();
  await new Promise((resolve) => { srv.close(resolve); });
  return typeof addr === 'object' && addr !== null ? addr.port : 0;
}

test('status --json: with an output down, the agent is degraded and its queue grows; stopped, it is not running', async (t) => {
  const port = await closedPort();
  const agent = startAgent('events: { process: true }\nheartbeat: { schedule: "* * * * * *" }\n', {
    outputsYaml: (dir) => `outputs:\n  - { type: file, name: local, path: ${join(dir, 'events.ndjson')}, batch: { max_wait: 100ms } }\n`
      + `  - { type: http, name: siem, url: "http://127.0.0.1:${port}/bulk", batch: { max_wait: 100ms } }\n`,
  });
  t.after(() => agent.stop());
  const stateDir = join(agent.dir, 'state');
  await waitFor('the agent to start', () => readNdjson(agent.eventsFile).some((d) => d.event.action === 'started'), 60_000);

  const first = await waitFor('the down output to show', () => {
    const s = status(stateDir);
    // Until the agent's first status is written, the JSON is only a problem line.
    if (!('outputs' in s.json)) return undefined;
    return s.json.outputs.find((o) => o.name === 'siem' && o.state !== 'running' && o.failures > 0) === undefined ? undefined : s;
  }, 30_000);
  assert.equal(first.code, 1, 'degraded');
  assert.equal(first.json.running, true);
  assert.equal(first.json.pid, agent.proc.pid);
  assert.match(first.json.health.problems.join('\n'), /output siem is (backoff|open)/);
  const siem = (s: StatusJson) => s.outputs.find((o) => o.name === 'siem');
  const local = (s: StatusJson) => s.outputs.find((o) => o.name === 'local');
  assert.equal(siem(first.json)?.last_delivery, null);
  assert.ok(local(first.json)?.last_delivery !== null, 'the file output delivers');

  // New events (short processes) pile up for the down output only.
  for (let i = 0; i < 5; i++) spawnSync('/bin/sh', ['-c', 'true; true']);
  const later = await waitFor('the queue to grow', () => {
    const s = status(stateDir);
    return (siem(s.json)?.queued_events ?? 0) > (siem(first.json)?.queued_events ?? 0) && (siem(s.json)?.oldest_queued_age_seconds ?? 0) > 0 ? s : undefined;
  }, 30_000);
  assert.equal(later.code, 1);
  assert.ok((local(later.json)?.queued_events ?? 0) < (siem(later.json)?.queued_events ?? 0), 'the healthy output keeps up');
  assert.ok((siem(later.json)?.failures ?? 0) > 0, 'the down output\'s failed deliveries are counted');

  // The heartbeat carries the same figures (portwarden.health) for the SIEM.
  const beat = await waitFor('a degraded heartbeat', () => readNdjson(agent.eventsFile).find((d) => d.event.action === 'heartbeat'
    && getField(d, 'portwarden.health.status') === 'degraded' && Number(getField(d, 'portwarden.health.queued_events')) > 0), 30_000);
  assert.equal(getField(beat, 'portwarden.health.outputs_failing'), 1);
  assert.match(String(getField(beat, 'portwarden.health.problems')), /output siem is/);
  assert.deepEqual(Object.keys(getField(beat, 'portwarden.health') as object).sort(), Object.keys(later.json.health).sort());
  assert.deepEqual(ecsProblems(beat), []);

  assert.equal(await agent.stop(), 0, agent.stderr());
  const after = status(stateDir);
  assert.equal(after.code, 3, 'not running');
  assert.equal(after.json.running, false);
});
