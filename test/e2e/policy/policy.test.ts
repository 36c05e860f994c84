// The central policy end to end: a real agent (`portwarden run`) fetches signed bundles from a real
// HTTPS server (node:https, certificates from a test CA made by openssl), applies them through its
// reload path, refuses tampered and foreign ones, and starts on its last good bundle when the
// server is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { signEnvelope } from '../../../agent/policy/envelope.js';
import { readPrivateKey, writeKeyPair } from '../../../agent/policy/keys.js';
import { startAgent } from '../../helpers/agent-process.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { waitFor } from '../../helpers/wait.js';
import { makeTestPki } from '../../../testkit/peers/pki.js';
import { startPolicyServer } from '../../../testkit/peers/policy-server.js';

const byAction = (docs: EcsDocument[], action: string): EcsDocument[] => docs.filter((d) => d.event.action === action);

/** A shell for a second whose command line carries `marker` (long enough for a polling-only collector). */
function probe(marker: string): void {
  spawnSync('/bin/sh', ['-c', `sleep 1; true ${marker}`]);
}

/** Probes until `done` (a loaded host may miss a poll). */
function probing<T>(what: string, marker: string, done: () => T | undefined): Promise<T> {
  return waitFor(what, () => { probe(marker); return done(); }, 60_000);
}

/** The agent shipped the process event of a probe: it saw it, so a missing alert means the rule did not fire. */
const sawProbe = (a: RunningAgent, marker: string): boolean => a.events().some((d) => d.event.dataset === 'portwarden.process'
  && /(?:^|\s)MARKER'?$/.test(String(getField(d, 'process.command_line')).replace(marker, 'MARKER')));

/** A bundle whose one rule fires on command lines that contain `marker`. */
function payload(version: string, created: string, ruleId: string, marker: string): Buffer {
  const text = ['ruleset: fleet-test', 'version: "1"', 'rules:', `  - id: ${ruleId}`, '    name: Fleet policy probe ran', '    severity: medium',
    '    tactic: TA0002', '    technique: T1059', `    when: { process.command_line: { regex: ['${marker}'] } }`, ''].join('\n');
  return Buffer.from(JSON.stringify({ format: 'portwarden-policy/1', version, created, rules: [{ name: 'fleet.yaml', text }] }));
}

const alertsOf = (a: RunningAgent, ruleId: string, marker: string): EcsDocument[] => a.events().filter((d) => d.event.kind === 'alert'
  && getField(d, 'rule.id') === ruleId && String(getField(d, 'process.command_line')).includes(marker));

test('policy: a signed bundle is applied in place (its rule fires, same pid); tampered and foreign bundles are refused; 304s cost no re-apply; with the server down the last good bundle is used', async (t) => {
  const pki = await makeTestPki();
  const keys = mkdtempSync(join(tmpdir(), 'pw-policy-keys-'));
  const server = await startPolicyServer(pki);
  const agents: RunningAgent[] = [];
  t.after(async () => {
    for (const a of agents) await a.stop();
    await server.close();
    await pki.dispose();
    rmSync(keys, { recursive: true, force: true });
  });
  writeKeyPair(join(keys, 'fleet.key'), join(keys, 'fleet.pub'), false);
  writeKeyPair(join(keys, 'other.key'), join(keys, 'other.pub'), false);
  const fleet = readPrivateKey(join(keys, 'fleet.key'));
  const other = readPrivateKey(join(keys, 'other.key'));
  const marker = `pw-policy-probe-${process.pid}-${Date.now()}`;
  server.publish(signEnvelope(payload('2026-12-07.1', '2026-12-07T01:00:00Z', 'fleet-probe-1', `${marker}-one`), [fleet]));

  const policyYaml = `policy: { url: "${server.url}", ca: ${pki.ca}, public_key: ${join(keys, 'fleet.pub')}, interval: 1s }\nevents: { process: true }\n`;
  const a = startAgent(policyYaml);
  agents.push(a);
  const applied = await waitFor('policy_applied', () => byAction(a.events(), 'policy_applied')[0], 90_000);
  assert.equal(getField(applied, 'portwarden.policy.version'), '2026-12-07.1');
  assert.deepEqual(ecsProblems(applied), []);
  await probing('the bundle\'s rule to fire', `${marker}-one`, () => alertsOf(a, 'fleet-probe-1', `${marker}-one`)[0]);
  const pid = a.proc.pid;

  // Unchanged bundle: the next polls are answered 304 and nothing is applied again.
  const before304 = server.counts[304] ?? 0;
  await waitFor('two 304 answers', () => (server.counts[304] ?? 0) >= before304 + 2, 30_000);
  assert.equal(byAction(a.events(), 'policy_applied').length, 1);
  assert.equal(byAction(a.events(), 'config_reloaded').length, 1);

  // A tampered bundle (the payload changed after signing) and one signed by another key: refused.
  const env = JSON.parse(signEnvelope(payload('2026-12-07.2', '2026-12-07T02:00:00Z', 'fleet-probe-2', `${marker}-two`), [fleet]).toString()) as { payload: string };
  env.payload = payload('2026-12-07.2', '2026-12-07T02:00:00Z', 'fleet-probe-2', `${marker}-evil`).toString('base64');
  server.publish(Buffer.from(JSON.stringify(env)));
  const tampered = await waitFor('policy_refused (tampered)', () => byAction(a.events(), 'policy_refused')[0], 30_000);
  assert.match(String(getField(tampered, 'message')), /does not match the payload/);
  assert.equal(getField(tampered, 'portwarden.policy.applied_version'), '2026-12-07.1');
  assert.deepEqual(ecsProblems(tampered), []);
  server.publish(signEnvelope(payload('2026-12-07.3', '2026-12-07T03:00:00Z', 'fleet-probe-3', `${marker}-three`), [other]));
  const foreign = await waitFor('policy_refused (other key)', () => byAction(a.events(), 'policy_refused')[1], 30_000);
  assert.match(String(getField(foreign, 'message')), /no signature by a pinned key/);
  // Signed by the right key, but a rule that does not compile: refused after validation.
  const broken = JSON.parse(payload('2026-12-07.4', '2026-12-07T04:00:00Z', 'fleet-probe-4', `${marker}-four`).toString()) as { rules: { text: string }[] };
  for (const r of broken.rules) r.text = r.text.replace("regex: ['", "regex: ['(");
  server.publish(signEnvelope(Buffer.from(JSON.stringify(broken)), [fleet]));
  const invalid = await waitFor('policy_refused (invalid content)', () => byAction(a.events(), 'policy_refused')[2], 30_000);
  assert.match(String(getField(invalid, 'message')), /\(2026-12-07\.4\): signed, but its content is invalid: policy bundle 2026-12-07\.4: rules\[0\] \(fleet\.yaml\)/);
  // A SIGHUP (local reload) keeps the applied policy as an overlay.
  a.proc.kill('SIGHUP');
  const hup = await waitFor('config_reloaded (SIGHUP)', () => byAction(a.events(), 'config_reloaded').find((d) => getField(d, 'portwarden.reload.reason') === 'SIGHUP'), 30_000);
  assert.deepEqual(getField(hup, 'portwarden.reload.overlays'), { policy: '2026-12-07.1' });
  // The old policy stays: its rule still fires, the refused ones never do; nothing was applied again.
  await probing('the applied rule to fire again', `${marker}-one-again`, () => alertsOf(a, 'fleet-probe-1', `${marker}-one-again`)[0]);
  for (const m of ['evil', 'three', 'four']) await probing(`the agent to see the ${m} probe`, `${marker}-${m}`, () => sawProbe(a, `${marker}-${m}`) || undefined);
  assert.deepEqual(a.events().filter((d) => ['fleet-probe-2', 'fleet-probe-3', 'fleet-probe-4'].includes(String(getField(d, 'rule.id')))), []);
  assert.equal(byAction(a.events(), 'policy_applied').length, 1);
  // The status file is rewritten every few seconds: wait for the one that knows of the refusal.
  type Status = { pid: number; policy: { version: string; last_error?: string } };
  const status = await waitFor('status.json naming the refusal', () => {
    const st = JSON.parse(readFileSync(join(a.dir, 'state', 'status.json'), 'utf8')) as Status;
    return /content is invalid/.test(st.policy.last_error ?? '') ? st : undefined;
  }, 30_000);
  assert.equal(status.policy.version, '2026-12-07.1');
  assert.equal(status.pid, pid);
  assert.equal(byAction(a.events(), 'started').length, 1, 'no restart');
  assert.equal(await a.stop(), 0);

  // The server goes away; a restarted agent runs on the last good bundle from its state dir.
  await server.close();
  const b = startAgent(policyYaml, { dir: a.dir });
  agents.push(b);
  await waitFor('the restarted agent', () => byAction(b.events(), 'started').length === 2, 60_000);
  const down = await waitFor('policy_unreachable', () => byAction(b.events(), 'policy_unreachable')[0], 30_000);
  assert.equal(getField(down, 'portwarden.policy.applied_version'), '2026-12-07.1');
  await probing('the last good bundle\'s rule to fire after the restart', `${marker}-one-restarted`, () => alertsOf(b, 'fleet-probe-1', `${marker}-one-restarted`)[0]);
  assert.match(readFileSync(join(a.dir, 'agent.log'), 'utf8'), /policy 2026-12-07\.1 \(last good bundle, signed by sha256:/);
});

test('policy: a bundle the agent cannot save in its state dir stays applied, is reported once as policy_save_failed, and the agent runs on', async (t) => {
  const pki = await makeTestPki();
  const keys = mkdtempSync(join(tmpdir(), 'pw-policy-keys-'));
  const dir = mkdtempSync(join(tmpdir(), 'pw-agent-'));
  const server = await startPolicyServer(pki);
  const agents: RunningAgent[] = [];
  t.after(async () => {
    for (const a of agents) await a.stop();
    await server.close();
    await pki.dispose();
    rmSync(keys, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  writeKeyPair(join(keys, 'fleet.key'), join(keys, 'fleet.pub'), false);
  const fleet = readPrivateKey(join(keys, 'fleet.key'));
  // A file where state_dir/policy/ should be: every save of the bundle fails, as on a full disk.
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  writeFileSync(join(dir, 'state', 'policy'), 'in the way');
  const marker = `pw-policy-unsaved-${process.pid}-${Date.now()}`;
  server.publish(signEnvelope(payload('2026-12-07.9', '2026-12-07T09:00:00Z', 'fleet-probe-9', marker), [fleet]));
  const a = startAgent(`policy: { url: "${server.url}", ca: ${pki.ca}, public_key: ${join(keys, 'fleet.pub')}, interval: 1s }\nevents: { process: true }\n`, { dir });
  agents.push(a);
  await waitFor('policy_applied', () => byAction(a.events(), 'policy_applied')[0], 90_000);
  const failed = await waitFor('policy_save_failed', () => byAction(a.events(), 'policy_save_failed')[0], 30_000);
  assert.equal(getField(failed, 'portwarden.policy.version'), '2026-12-07.9');
  assert.equal(getField(failed, 'portwarden.policy.outcome'), 'save_failed');
  assert.match(String(getField(failed, 'portwarden.policy.reason')), /EEXIST|ENOTDIR/);
  assert.deepEqual(ecsProblems(failed), []);
  // Still applied and still running: the bundle's rule fires, polls go on (304s), nothing restarted.
  await probing('the unsaved bundle\'s rule to fire', marker, () => alertsOf(a, 'fleet-probe-9', marker)[0]);
  const before304 = server.counts[304] ?? 0;
  await waitFor('two more polls', () => (server.counts[304] ?? 0) >= before304 + 2, 30_000);
  assert.equal(byAction(a.events(), 'policy_save_failed').length, 1, 'reported once');
  assert.equal(byAction(a.events(), 'started').length, 1, 'no restart');
  assert.match(readFileSync(join(dir, 'agent.log'), 'utf8'), /policy 2026-12-07\.9 applied, but not saved in the state dir/);
  assert.equal(await a.stop(), 0);
});
