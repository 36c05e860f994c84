import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../../testkit/paths.js';
import { waitFor } from '../../testkit/wait.js';
import { spawnNodeExe, winPath } from '../../testkit/wine.js';
import { dir, docs, expected, matches, procOf, skip, startListener, useWine, w } from './wine-env.js';

/** `portwarden run` under the Windows node.exe in a wine prefix: events for another Windows process's listeners. */
useWine();

test('run: listening_started then listening_stopped, with the Windows parent as ancestry', { skip, timeout: 600_000 }, async (t) => {
  const state = join(dir, 'state');
  const events = join(dir, 'events.ndjson');
  const config = join(dir, 'run.yml');
  writeFileSync(config, [
    `state_dir: '${winPath(state)}'`, 'interval: 1s', 'detect: { enabled: false }',
    `log: { file: '${winPath(join(dir, 'agent.log'))}' }`,
    `outputs: [{ type: file, path: '${winPath(events)}', batch: { max_wait: 100ms } }]`, '',
  ].join('\n'));
  const agent = spawnNodeExe(w, [winPath(cliPath), 'run', '--config', winPath(config)], { stdout: join(dir, 'run.out'), stderr: join(dir, 'run.err') });
  t.after(() => agent.kill('SIGKILL'));
  const read = () => (existsSync(events) ? docs(readFileSync(events, 'utf8')) : []);
  await waitFor('the agent\'s first inventory', () => read().some((d) => d.event.action === 'listening_existing'), 300_000, 200);

  const l = await startListener('run');
  const { udp4 } = l.opened;
  assert.ok(udp4 !== undefined);
  const started = await waitFor('listening_started', () => read().find((d) => d.event.action === 'listening_started' && matches(d, 'udp4', udp4)), 120_000, 200);
  assert.equal(procOf(started)?.pid, l.opened.pid);
  assert.equal(procOf(started)?.name, 'node.exe');
  assert.equal(procOf(started)?.parent?.pid, l.parent, 'ancestry: the Windows parent that started it');
  const lineage = (started.portwarden as { lineage?: unknown }).lineage;
  assert.ok(JSON.stringify(lineage ?? started.process).includes(String(l.parent)), 'the parent is in the lineage');
  for (const { k, port } of expected(l.opened)) {
    assert.ok(read().some((d) => d.event.action === 'listening_started' && matches(d, k, port)), `${k} listening_started`);
  }
  l.stop();
  const stopped = await waitFor('listening_stopped', () => read().find((d) => d.event.action === 'listening_stopped' && matches(d, 'udp4', udp4)), 120_000, 200);
  assert.equal(procOf(stopped)?.pid, l.opened.pid);
  for (const { k, port } of expected(l.opened)) {
    await waitFor(`${k} listening_stopped`, () => read().some((d) => d.event.action === 'listening_stopped' && matches(d, k, port)), 60_000, 200);
  }
});

