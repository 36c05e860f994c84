import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { readNdjson, startAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { waitFor } from '../../helpers/wait.js';
import { cliPath } from '../../../testkit/paths.js';

/** Two file outputs, `a` and `b`, each with its own file, process events shipped (a steady flow). */
function twoOutputs(dir: string, bFile = 'b.ndjson'): string {
  return `outputs:\n  - { type: file, name: a, path: ${join(dir, 'a.ndjson')}, batch: { max_wait: 100ms } }\n`
    + `  - { type: file, name: b, path: ${join(dir, bFile)}, batch: { max_wait: 100ms } }\nevents: { process: true }\n`;
}

const ids = (docs: EcsDocument[]): string[] => docs.map((d) => d.event.id);
const byAction = (docs: EcsDocument[], action: string): EcsDocument[] => docs.filter((d) => d.event.action === action);

/** Runs a shell for a second whose command line carries `marker` (long enough for a polling-only collector). */
function probe(marker: string): void {
  spawnSync('/bin/sh', ['-c', `sleep 1; true ${marker}`]);
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('reload: a rule file added by SIGHUP fires without a restart (same pid); no event is lost or sent twice', async (t) => {
  const agent = startAgent('', { outputsYaml: (dir) => twoOutputs(dir) });
  t.after(() => agent.stop());
  const { proc } = agent;
  const cfgFile = join(agent.dir, 'portwarden.yaml');
  const a = (): EcsDocument[] => readNdjson(join(agent.dir, 'a.ndjson'));
  const b = (): EcsDocument[] => readNdjson(join(agent.dir, 'b.ndjson'));
  const marker = `pw-reload-probe-${process.pid}-${Date.now()}`;
  const seen = (tag: string) => a().some((d) => d.event.dataset === 'portwarden.process' && String(getField(d, 'process.command_line')).includes(`${marker}-${tag}`));
  await waitFor('the agent to start', () => byAction(a(), 'started').length > 0, 60_000);

  // Probes run until the agent has seen one (a loaded host may miss a poll).
  let tries = 0;
  await waitFor('the probe before the reload to be seen', () => { probe(`${marker}-before-${++tries}`); return seen('before'); }, 60_000);
  // The probe runs the agent shipped before the reload: evaluated without the new rule, for good.
  const shippedBefore = a().map((d) => String(getField(d, 'process.command_line'))).filter((c) => c.includes(`${marker}-before-`));
  writeFileSync(join(agent.dir, 'extra-rules.yaml'), [
    'ruleset: reload-test', 'version: "1"', 'rules:', '  - id: test-reload-probe', '    name: Reload probe ran', '    severity: medium',
    '    tactic: TA0002', '    technique: T1059', `    when: { process.command_line: { regex: ['${marker}'] } }`, '',
  ].join('\n'));
  appendFileSync(cfgFile, 'detect: { rule_files: [extra-rules.yaml] }\n');
  proc.kill('SIGHUP');
  const reloaded = await waitFor('config_reloaded', () => byAction(a(), 'config_reloaded')[0], 30_000);
  assert.deepEqual(getField(reloaded, 'portwarden.reload.applied'), ['detect']);
  assert.deepEqual(getField(reloaded, 'portwarden.reload.outputs_restarted'), []);
  assert.deepEqual(ecsProblems(reloaded), []);

  const alert = await waitFor('the new rule to fire', () => {
    probe(`${marker}-after`);
    return a().find((d) => d.event.kind === 'alert' && getField(d, 'rule.id') === 'test-reload-probe');
  }, 60_000);
  assert.match(String(getField(alert, 'process.command_line')), new RegExp(`${marker}-after`));
  // Not on a run seen before the reload: the rule did not exist then.
  assert.equal(a().filter((d) => getField(d, 'rule.id') === 'test-reload-probe' && shippedBefore.includes(String(getField(d, 'process.command_line')))).length, 0);
  assert.ok(shippedBefore.length > 0);
  assert.equal(proc.exitCode, null, 'the agent still runs: SIGHUP did not stop it');
  assert.equal(byAction(a(), 'started').length, 1, 'one started event: no restart');

  assert.equal(await agent.stop(), 0, agent.stderr());
  // Every event accepted before, across and after the reload reached both outputs once.
  const docsA = a();
  const docsB = b();
  assert.equal(new Set(ids(docsA)).size, docsA.length, 'no event twice in a');
  assert.equal(new Set(ids(docsB)).size, docsB.length, 'no event twice in b');
  assert.deepEqual(new Set(ids(docsB)), new Set(ids(docsA)), 'a and b got the same events');
  assert.ok(byAction(docsA, 'stopped').length === 1 && seen('before') && seen('after'));
});

test('reload: a rule file dropped into a configured rule directory fires after SIGHUP, the config file unchanged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-agent-'));
  mkdirSync(join(dir, 'rules.d', 'team'), { recursive: true });
  const agent = startAgent('detect: { rule_files: [rules.d] }\n', { dir, outputsYaml: (d) => twoOutputs(d) });
  t.after(() => agent.stop());
  const a = (): EcsDocument[] => readNdjson(join(agent.dir, 'a.ndjson'));
  const marker = `pw-reload-dir-${process.pid}-${Date.now()}`;
  await waitFor('the agent to start', () => byAction(a(), 'started').length > 0, 60_000);
  writeFileSync(join(dir, 'rules.d', 'team', 'probe.yml'), [
    `title: reload directory probe`, 'id: 6f1c0d9e-4b7a-4e0f-9a55-0c7d2f1e3b21', 'status: test',
    'logsource: { category: process_creation, product: linux }',
    `detection: { sel: { CommandLine|contains: '${marker}' }, condition: sel }`, 'level: medium', '',
  ].join('\n'));
  agent.proc.kill('SIGHUP');
  const reloaded = await waitFor('config_reloaded', () => byAction(a(), 'config_reloaded')[0], 30_000);
  assert.deepEqual(getField(reloaded, 'portwarden.reload.applied'), ['detect (rule files or overlays)']);
  const alert = await waitFor('the new Sigma rule to fire', () => {
    probe(`${marker}-after`);
    return a().find((d) => d.event.kind === 'alert' && getField(d, 'rule.id') === '6f1c0d9e-4b7a-4e0f-9a55-0c7d2f1e3b21');
  }, 60_000);
  assert.match(String(getField(alert, 'process.command_line')), new RegExp(marker));
  assert.equal(byAction(a(), 'started').length, 1, 'one started event: no restart');
  assert.equal(await agent.stop(), 0, agent.stderr());
});

test('reload: a config that does not validate is refused; the agent runs on, says why in-band and in `portwarden reload`', async (t) => {
  const agent = startAgent('', { outputsYaml: (dir) => twoOutputs(dir) });
  t.after(() => agent.stop());
  const cfgFile = join(agent.dir, 'portwarden.yaml');
  const a = (): EcsDocument[] => readNdjson(join(agent.dir, 'a.ndjson'));
  await waitFor('the agent to start', () => byAction(a(), 'started').length > 0, 60_000);
  const good = readFileSync(cfgFile, 'utf8');

  appendFileSync(cfgFile, 'detect:\n  allowlist:\n    - { ports: [22], colour: blue }\n');
  agent.proc.kill('SIGHUP');
  const failed = await waitFor('config_reload_failed', () => byAction(a(), 'config_reload_failed')[0], 30_000);
  assert.equal(getField(failed, 'portwarden.reload.file'), cfgFile);
  assert.equal(getField(failed, 'portwarden.reload.key_path'), 'detect.allowlist[0]');
  assert.match(String(getField(failed, 'portwarden.reload.expected')), /colour/);
  assert.deepEqual(ecsProblems(failed), []);
  assert.equal(agent.proc.exitCode, null, 'the agent still runs');

  // The CLI names the problem and exits 1; status reports the agent degraded by it.
  writeFileSync(cfgFile, `${good}detect: { disabled_rules: [ 12 ] }\n`);
  const r = cli(['reload', '--state-dir', join(agent.dir, 'state')]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /refused, the agent \(pid \d+\) runs on the previous config: .*detect\.disabled_rules\[0\]/);
  const st = cli(['status', '--state-dir', join(agent.dir, 'state'), '--json']);
  assert.equal(st.code, 1, st.stdout);
  assert.match((JSON.parse(st.stdout) as { health: { problems: string[] } }).health.problems.join('\n'), /last reload refused/);

  // Events keep flowing on the old config, and a fixed config applies.
  const before = a().length;
  writeFileSync(cfgFile, good);
  const ok = cli(['reload', '--config', cfgFile]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /reloaded the agent \(pid \d+\): nothing changed/);
  await waitFor('events after the refused reloads', () => a().length > before, 30_000);
  assert.equal(cli(['status', '--state-dir', join(agent.dir, 'state')]).code, 0);
  assert.equal(byAction(a(), 'started').length, 1);
  assert.equal(await agent.stop(), 0, agent.stderr());
});

test('reload: only the output whose settings changed is drained and restarted, an added output starts; restart-only keys are reported', async (t) => {
  const agent = startAgent('', { outputsYaml: (dir) => twoOutputs(dir) });
  t.after(() => agent.stop());
  const cfgFile = join(agent.dir, 'portwarden.yaml');
  const file = (name: string) => (): EcsDocument[] => readNdjson(join(agent.dir, name));
  const [a, b, b2, c] = [file('a.ndjson'), file('b.ndjson'), file('b2.ndjson'), file('c.ndjson')];
  await waitFor('the agent to start', () => byAction(a(), 'started').length > 0, 60_000);

  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('b.ndjson', 'b2.ndjson').replace('interval: 250ms', 'interval: 300ms')
    .replace('events:', `  - { type: file, name: c, path: ${join(agent.dir, 'c.ndjson')}, batch: { max_wait: 100ms } }\nevents:`));
  const r = cli(['reload', '--config', cfgFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /outputs restarted: b\n/);
  assert.match(r.stdout, /outputs added: c\n/);
  assert.match(r.stdout, /needs a restart to change: interval\n/);
  const ev = await waitFor('config_reloaded', () => byAction(a(), 'config_reloaded')[0], 30_000);
  assert.deepEqual(getField(ev, 'portwarden.reload.outputs_restarted'), ['b']);
  assert.deepEqual(getField(ev, 'portwarden.reload.outputs_added'), ['c']);
  assert.deepEqual(getField(ev, 'portwarden.reload.restart_required'), ['interval']);
  assert.equal(getField(ev, 'event.severity'), 47);
  const log = readFileSync(join(agent.dir, 'agent.log'), 'utf8');
  assert.match(log, /draining and restarting output b/);
  assert.doesNotMatch(log, /draining and restarting output a/);

  // b's events go to its new file from the reload on; a goes on in the same file.
  probe(`pw-reload-outputs-${process.pid}`);
  await waitFor('events in b2', () => b2().some((d) => d.event.action === 'config_reloaded'), 30_000);
  assert.equal(await agent.stop(), 0, agent.stderr());
  const all = ids(a());
  const split = [...ids(b()), ...ids(b2())];
  assert.equal(new Set(all).size, all.length, 'no event twice in a');
  assert.equal(new Set(split).size, split.length, 'no event twice across b\'s restart');
  assert.deepEqual(new Set(split), new Set(all), 'b lost nothing across its restart');
  assert.ok(b().length > 0 && b2().length > 0);
  // The added output got everything accepted from the moment it was added, the reload's event too.
  const added = c();
  assert.ok(byAction(added, 'config_reloaded').length === 1 && byAction(added, 'started').length === 0);
  assert.equal(new Set(ids(added)).size, added.length);
  assert.deepEqual(ids(added), all.slice(all.indexOf(added[0]?.event.id ?? '')), 'c holds the tail of a from the reload on');
});
