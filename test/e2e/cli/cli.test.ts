import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliPath } from '../../../testkit/paths.js';
import { startAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-'));
  const file = join(dir, 'portwarden.yaml');
  writeFileSync(file, text);
  return file;
}

test('each config error class exits 2 naming the file, the key and what was expected', async () => {
  // `run` validates in its start-up worker thread, check-config in-process: both must say the same.
  const both = ['check-config', 'run'];
  const ruleFile = join(mkdtempSync(join(tmpdir(), 'pw-rules-')), 'acme.yaml');
  writeFileSync(ruleFile, 'ruleset: acme\nrules:\n  - id: acme-1\n    name: x\n    severity: high\n    tactic: TA9\n    technique: T1059\n    when: { process.name: sh }\n');
  const cases: [string, string[], RegExp][] = [
    ['bad duration', both, /portwarden\.yaml: interval: expected a duration like 500ms, 2s, 5m, 24h, got "fast"/],
    ['unknown output type', both, /portwarden\.yaml: outputs\[0\]\.type: expected one of "stdout", "file"/],
    ['unknown key', both, /portwarden\.yaml: outputs\[0\]: unknown key "pth"/],
    ['unset variable', both, /portwarden\.yaml: state_dir: environment variable PW_TEST_NEVER_SET is not set/],
    ['bad rule file', ['run'], /acme\.yaml: rules\[0\] \(id acme-1\)\.tactic: expected an ATT&CK tactic id like TA0003/],
    ['unreadable state dir', ['run'], /portwarden\.yaml: state_dir: a directory the agent can create, read and write/],
    ['bad inventory schedule', ['run'], /portwarden\.yaml: inventory\.schedule: a cron schedule/],
  ];
  const texts: Record<string, string> = {
    'bad duration': 'interval: fast\n',
    'unknown output type': 'outputs:\n  - type: pigeon\n',
    'unknown key': 'outputs:\n  - type: file\n    path: /tmp/x\n    pth: /tmp/x\n',
    'unset variable': 'state_dir: ${PW_TEST_NEVER_SET}\n',
    'bad rule file': `detect: { rule_files: [${ruleFile}] }\noutputs: [{ type: file, path: /dev/null }]\n`,
    'unreadable state dir': 'state_dir: /proc/version/state\n',
    'bad inventory schedule': `state_dir: ${mkdtempSync(join(tmpdir(), 'pw-st-'))}\ninventory: { schedule: "every hour" }\noutputs: [{ type: file, path: /dev/null }]\n`,
  };
  for (const [name, commands, expected] of cases) {
    const file = configFile(texts[name] ?? '');
    for (const command of commands) {
      const r = await cli([command, '--config', file]);
      assert.equal(r.code, 2, `${name} (${command}): ${r.stderr}`);
      assert.match(r.stderr, expected, `${name} (${command})`);
    }
  }
  for (const command of both) {
    const missing = await cli([command, '--config', '/nonexistent/portwarden.yaml']);
    assert.equal(missing.code, 2, command);
    assert.match(missing.stderr, /\/nonexistent\/portwarden\.yaml: \(top level\): cannot read the config file/, command);
  }
});

test('usage errors exit 2; --version and per-command --help exit 0', async () => {
  assert.equal((await cli(['frobnicate'])).code, 2);
  assert.equal((await cli(['run', '--no-such-flag'])).code, 2);
  assert.equal((await cli([])).code, 2);
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^portwarden \d+\.\d+\.\d+\n$/);
  for (const c of ['run', 'listeners', 'check-config']) {
    const h = await cli([c, '--help']);
    assert.equal(h.code, 0, c);
    assert.match(h.stdout, new RegExp(`^Usage: portwarden ${c}`), c);
  }
});

test('check-config prints the resolved config with secrets redacted', async () => {
  const file = configFile('outputs:\n  - type: file\n    path: /tmp/x.ndjson\n  - type: stdout\n');
  const r = await cli(['check-config', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid/);
  assert.match(r.stdout, /max_wait: 1000/);
  const secret = configFile('outputs:\n  - type: http\n    url: http://127.0.0.1:1/\n    format: ndjson\n    token: hunter2-secret\n');
  const s = await cli(['check-config', '--config', secret]);
  assert.equal(s.code, 0, s.stderr);
  assert.doesNotMatch(s.stdout, /hunter2/);
  assert.match(s.stdout, /token: "?\[redacted\]"?/);
  const inUrl = configFile('outputs:\n  - type: http\n    url: http://elastic:pa55-in-url@127.0.0.1:1/\n    format: ndjson\n');
  const u = await cli(['check-config', '--config', inUrl]);
  assert.equal(u.code, 0, u.stderr);
  assert.doesNotMatch(u.stdout, /pa55-in-url/);
  assert.match(u.stdout, /url: "?http:\/\/elastic:\[redacted\]@127\.0\.0\.1:1\/"?/);
});

test('a scheduled inventory re-reports every listener as event.kind state', async (t) => {
  const agent = startAgent('inventory: { schedule: "*/2 * * * * *" }\ndetect: { enabled: false }\n');
  t.after(() => agent.stop());
  const state = await waitFor('an inventory event', () => agent.events().find((d) => d.event.kind === 'state'), 30_000);
  assert.equal(state.event.action, 'listening_existing');
  assert.equal(state.event.dataset, 'portwarden.network');
  assert.equal(await agent.stop(), 0);
});

test('SIGINT stops the agent with exit code 0', async () => {
  const agent = startAgent('detect: { enabled: false }\n');
  await waitFor('the agent started', () => agent.events().find((d) => d.event.action === 'started'), 30_000);
  agent.proc.kill('SIGINT');
  assert.equal(await agent.stop(), 0, agent.stderr());
});

test('the embedded default (no config) prints ECS documents on stdout and stops cleanly', async (t) => {
  const { spawn } = await import('node:child_process');
  const { createServer } = await import('node:net');
  const server = createServer(); // at least one listener to report, whatever the machine runs
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  const proc = spawn(process.execPath, [cliPath, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => { r(c); }));
  try {
    const doc = await waitFor('a listener document on stdout', () => out.split('\n').filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: { action: string }; ecs: { version: string } })
      .find((d) => d.event.action === 'listening_existing'), 30_000);
    assert.equal(doc.ecs.version, '9.4.0');
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});
