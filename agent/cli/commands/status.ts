import { parseCommandArgs } from '../command.js';
import type { CliIO, Command } from '../command.js';
import { locateAgent, readStatus } from '../agent-state.js';
import type { AgentStatus } from '../../app/status.js';
import { STATUS_INTERVAL_MS } from '../../app/status.js';
import { UsageError } from '../../util/errors.js';
import { visibleLines } from '../../util/terminal-text.js';

/** A status file older than this while its agent runs: the agent is stuck (not publishing). */
export const STALE_AFTER_MS = 15 * STATUS_INTERVAL_MS;

const HELP = `Usage: portwarden status [--config FILE | --state-dir DIR] [--json]

Shows how the agent that holds the state_dir is doing, from what it publishes in
<state_dir>/status.json every ${STATUS_INTERVAL_MS / 1000} s (no network port): pid, uptime, version, collector and
real-time mode, rule counts, policy version, and per output the queued events, the age of the
oldest, the last delivery, failures, dropped and lost events.

Options:
  --config FILE    the agent's config, to find its state_dir
  --state-dir DIR  the agent's state_dir (instead of --config)
  --json           print the status document as JSON (the file's content, with "running" and "exit_code")
  -h, --help       this help

Exit codes: 0 running and healthy; 1 running but degraded (an output failing, paused or behind an
open circuit breaker, events dropped or lost, the last reload refused, or the status file not
updated for ${(STALE_AFTER_MS / 1000).toString()} s); 2 usage or configuration error; 3 not running (no live agent holds the
state_dir; a status file left behind is stale).`;

const EXIT = { running: 0, degraded: 1, notRunning: 3 } as const;

function age(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return `${s} s ago`;
}

function human(st: AgentStatus, running: boolean, problems: string[], now: number): string {
  const up = st.health.uptime_seconds;
  const head = running
    ? `portwarden ${st.version} on ${st.host}: running (pid ${st.pid}, up ${Math.floor(up / 3600)}h ${Math.floor((up % 3600) / 60)}m), ${problems.length === 0 ? 'ok' : 'degraded'}`
    : `portwarden on ${st.host}: not running (last status from pid ${st.pid}, ${age(st.updated, now)})`;
  const rows = st.outputs.map((o) => [o.name, o.type, o.state, String(o.queued_events), `${o.oldest_queued_age_seconds} s`, age(o.last_delivery, now),
    String(o.failures), String(o.dropped), String(o.lost)]);
  const header = ['output', 'type', 'state', 'queued', 'oldest', 'last delivery', 'failures', 'dropped', 'lost'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const table = [header, ...rows].map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd());
  return [
    head,
    `  config: ${st.config_file}`,
    `  collector: ${st.collector.platform} (${st.collector.listener_path}), real-time: ${st.collector.realtime ?? 'n/a'}`,
    `  detection: ${st.detection.enabled ? `${st.detection.rules} rules active, ${st.detection.disabled_rules} disabled, ${st.detection.allowlist_entries} allowlist entries` : 'off'}`,
    `  policy: ${st.policy.version ?? 'none'}${st.policy.last_check === undefined ? '' : ` (checked ${age(st.policy.last_check, now)})`}`,
    ...(st.policy.last_error === undefined ? [] : [`  policy problem: ${st.policy.last_error}`]),
    ...(st.last_reload === null ? [] : [`  last reload: ${st.last_reload.kind} (${st.last_reload.reason}, ${age(st.last_reload.at, now)})`]),
    ...table,
    ...problems.map((p) => `  problem: ${p}`),
  ].join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  help: HELP,
  run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs('status', argv, { config: { type: 'string', short: 'c' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } });
    if (values.help === true) {
      io.stdout.write(`${HELP}\n`);
      return Promise.resolve(0);
    }
    if (values.config !== undefined && values['state-dir'] !== undefined) throw new UsageError('portwarden status: give --config or --state-dir, not both');
    const { stateDir, pid } = locateAgent({ config: values.config, stateDir: values['state-dir'] }, io.env);
    const found = readStatus(stateDir);
    const now = Date.now();
    // An agent starting up has not replaced the file of the one before yet.
    const read = found.kind === 'ok' && pid !== undefined && found.status.pid !== pid ? { kind: 'none' as const, why: 'its status is not published yet (starting?)' } : found;
    if (read.kind === 'none') {
      const msg = pid === undefined ? `not running (no agent holds state_dir ${stateDir})` : `running (pid ${pid}) but ${read.why}`;
      const code = pid === undefined ? EXIT.notRunning : EXIT.degraded;
      if (values.json === true) io.stdout.write(`${JSON.stringify({ running: pid !== undefined, exit_code: code, state_dir: stateDir, pid: pid ?? null, problem: msg })}\n`);
      else io.stdout.write(visibleLines(`portwarden: ${msg}\n`));
      return Promise.resolve(code);
    }
    const st = read.status;
    // The lock, not the file, says whether the agent runs: a file left by a killed agent is stale.
    const running = pid !== undefined && st.state === 'running';
    const problems = [...st.health.problems];
    if (running && now - Date.parse(st.updated) > STALE_AFTER_MS) problems.push(`status not updated since ${st.updated} (agent stuck?)`);
    const code = !running ? EXIT.notRunning : problems.length > 0 ? EXIT.degraded : EXIT.running;
    if (values.json === true) io.stdout.write(`${JSON.stringify({ ...st, running, exit_code: code, health: { ...st.health, problems } }, null, 2)}\n`);
    else io.stdout.write(`${visibleLines(human(st, running, problems, now))}\n`);
    return Promise.resolve(code);
  },
};
