// Reload in place and `portwarden status` against a real agent (`portwarden run` with a file
// output), as ratios to `portwarden check-config` on the same config (a fresh process validating the
// same files: the reference an operator would otherwise run before a restart).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../testkit/paths.js';
import { waitFor } from '../testkit/wait.js';
import { cpuOf } from './collector.js';
import type { Bench } from './harness.js';

const ROUNDS = 9;

function timed(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`portwarden ${args.join(' ')}: exit ${String(r.status)}: ${r.stderr}`);
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;

const bench: Bench = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-fleet-'));
  const cfg = join(dir, 'portwarden.yaml');
  writeFileSync(cfg, `state_dir: ${join(dir, 'state')}\nlog: { file: ${join(dir, 'agent.log')} }\noutputs:\n  - { type: file, path: ${join(dir, 'events.ndjson')} }\n`);
  const agent = spawn(process.execPath, [cliPath, 'run', '--config', cfg], { stdio: 'ignore' });
  try {
    await waitFor('the agent status', () => existsSync(join(dir, 'state', 'status.json')), 60_000);
    const pid = agent.pid ?? 0;
    const check: number[] = [];
    const reload: number[] = [];
    const status: number[] = [];
    const agentCpu: number[] = [];
    const checkCpu: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // cutime/cstime: this process's waited-for children, i.e. the check-config process.
      const s0 = cpuOf('self');
      check.push(timed(['check-config', '--config', cfg]));
      checkCpu.push(cpuOf('self') - s0);
      const c0 = cpuOf(pid);
      reload.push(timed(['reload', '--config', cfg]));
      agentCpu.push(cpuOf(pid) - c0);
      status.push(timed(['status', '--config', cfg]));
    }
    const ref = median(check);
    const refCpu = median(checkCpu);
    return [{
      title: `reload and status against a running agent (median of ${ROUNDS})`,
      columns: ['case', 'ms', 'vs check-config'],
      rows: [
        ['reference: portwarden check-config, wall (fresh process, same files)', ref, 1],
        ['portwarden reload, wall (validate, signal, agent re-reads in its worker, answer)', median(reload), median(reload) / ref],
        ['portwarden status, wall', median(status), median(status) / ref],
        ['reference: portwarden check-config, CPU', refCpu, 1],
        ['the agent\'s CPU during one reload', median(agentCpu), median(agentCpu) / refCpu],
      ],
      notes: ['The agent CPU includes its own polls during the reload (interval 1 s).'],
    }];
  } finally {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
};
export default bench;
