/** The live detection tests' shared steps: an agent that reports new processes, and its alerts. */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { startAgent } from '../../helpers/agent-process.js';
import type { RunningAgent } from '../../helpers/agent-process.js';
import { ecsProblems } from '../../helpers/ecs-validate.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Runs `file args` to its end; resolves with its pid whatever its exit status (the reverse shell
 * dies of SIGPIPE when its peer hangs up; the alerts are what the test checks).
 */
export function run(file: string, args: string[], env?: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 60_000, ...(env === undefined ? {} : { env: { ...process.env, ...env } }) }, () => { resolve(child.pid ?? 0); });
  });
}

export async function startWith(t: TestContext, realtime: 'off' | 'ebpf'): Promise<RunningAgent | undefined> {
  const agent = startAgent(`events: { process: true }\nsource: { realtime: ${realtime} }\n`);
  t.after(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const started = await waitFor('the started event', () => events(agent).find((d) => d.event.action === 'started'), 90_000);
  const mode = getField(started, 'portwarden.collector.realtime.mode');
  if (realtime === 'ebpf' && mode !== 'ebpf') {
    t.skip(`the real-time source did not start here (mode ${String(mode)}: ${JSON.stringify(getField(started, 'portwarden.collector.realtime.reasons'))})`);
    return undefined;
  }
  await waitFor('the first inventory', () => events(agent).find((d) => d.event.action === 'listening_existing'), 30_000);
  // New processes are reported once a marker process comes out (start-up reads the existing ones first).
  // It lives until seen: a short one can end between two polls on a loaded machine.
  const marker = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(() => { marker.kill('SIGKILL'); });
  await waitFor('the marker process', () => events(agent).find((d) => getField(d, 'process.pid') === marker.pid), 120_000);
  marker.kill('SIGKILL');
  return agent;
}

/** The agent's output so far; a line being written is left for the next look. */
export function events(agent: RunningAgent): EcsDocument[] {
  try {
    return agent.events();
  } catch {
    return [];
  }
}

/** The alert of `rule` about a process matching `about`, once it is in the agent's output. */
export function alertOf(agent: RunningAgent, rule: string, about: (d: EcsDocument) => boolean): Promise<EcsDocument> {
  return waitFor(`a ${rule} alert`, () => events(agent).find((d) => d.event.kind === 'alert' && getField(d, 'rule.id') === rule && about(d)), 45_000)
    .catch((err: unknown) => {
      const seen = events(agent).filter((d) => d.event.kind === 'alert').map((d) => `${String(getField(d, 'rule.id'))} on ${String(getField(d, 'process.command_line')).slice(0, 80)}`);
      throw new Error(`${String(err)}; alerts seen: ${JSON.stringify(seen)}`);
    });
}

export function checkAlert(d: EcsDocument, rule: string): void {
  assert.deepEqual(ecsProblems(d), [], rule);
  assert.equal(d.event.action, 'unusual_parent_child');
  assert.equal(d.event.dataset, 'portwarden.alerts');
  assert.equal(getField(d, 'threat.framework'), 'MITRE ATT&CK');
}

/** A private network namespace `<name>-<pid>` with loopback up, removed after the test. */
export function netns(t: TestContext, name: string): string {
  const ns = `${name}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => { try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ } });
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  return ns;
}

/** The port a listener process prints first on its stdout; rejects if it exits before. */
export function printedPort(proc: ChildProcess, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    proc.stdout?.once('data', (b: Buffer) => { resolve(Number(b.toString().trim())); });
    proc.once('exit', (code) => { reject(new Error(`${what} exited (${String(code)})`)); });
  });
}
