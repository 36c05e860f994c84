import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cliPath } from '../../../testkit/paths.js';
import { startAgent } from '../../helpers/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

/** Whether every directory above `file` lets others through and the file lets them read it. */
function readableByOthers(file: string): boolean {
  if ((statSync(file).mode & 0o004) === 0) return false;
  for (let d = dirname(file); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { maxBuffer: 256 * 1024 * 1024 });
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
  const notADir = join(mkdtempSync(join(tmpdir(), 'pw-file-')), 'a-file');
  writeFileSync(notADir, '');
  writeFileSync(ruleFile, 'ruleset: acme\nrules:\n  - id: acme-1\n    name: x\n    severity: high\n    tactic: TA9\n    technique: T1059\n    when: { process.name: sh }\n');
  const cases: [string, string[], RegExp][] = [
    ['bad duration', both, /portwarden\.yaml: interval: expected a duration like 500ms, 2s, 5m, 24h, got "fast"/],
    ['unknown output type', both, /portwarden\.yaml: outputs\[0\]\.type: expected one of "stdout", "file"/],
    ['unknown key', both, /portwarden\.yaml: outputs\[0\]: unknown key "pth"/],
    ['unset variable', both, /portwarden\.yaml: state_dir: environment variable PW_TEST_NEVER_SET is not set/],
    ['bad rule file', both, /acme\.yaml: rules\[0\] \(id acme-1\)\.tactic: expected an ATT&CK tactic id like TA0003/],
    ['unreadable state dir', both, /portwarden\.yaml: state_dir: a directory the agent can create, read and write/],
    ['bad inventory schedule', both, /portwarden\.yaml: inventory\.schedule: a cron schedule/],
  ];
  const texts: Record<string, string> = {
    'bad duration': 'interval: fast\n',
    'unknown output type': 'outputs:\n  - type: pigeon\n',
    'unknown key': 'outputs:\n  - type: file\n    path: /tmp/x\n    pth: /tmp/x\n',
    'unset variable': 'state_dir: ${PW_TEST_NEVER_SET}\n',
    'bad rule file': `detect: { rule_files: [${ruleFile}] }\noutputs: [{ type: file, path: /dev/null }]\n`,
    // Under a regular file: mkdir fails (ENOTDIR). (/proc is refused earlier, by the schema.)
    'unreadable state dir': `state_dir: ${join(notADir, 'state')}\n`,
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
  assert.equal(await agent.exited, 0, agent.stderr());
});

test('the embedded default (no config) prints ECS documents on stdout and stops cleanly', async (t) => {
  const { spawn } = await import('node:child_process');
  const { createServer } = await import('node:net');
  const server = createServer(); // at least one listener to report, whatever the machine runs
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.close(); });
  // The embedded default keeps its state in /var/lib/portwarden as root: run it as nobody, whose
  // default state dir is under XDG_STATE_HOME, a temp dir of this test.
  const state = mkdtempSync(join(tmpdir(), 'pw-embedded-'));
  t.after(() => { rmSync(state, { recursive: true, force: true }); });
  // As nobody (root would use /var/lib/portwarden whatever XDG_STATE_HOME says), when nobody can
  // read this checkout: CI may clone it under a 0700 directory, and then it runs as root.
  const asNobody = process.getuid?.() === 0 && readableByOthers(cliPath) ? { uid: 65534, gid: 65534 } : {};
  // Nobody's own XDG_STATE_HOME (a world-writable one would be refused as unsafe).
  if ('uid' in asNobody) chownSync(state, 65534, 65534);
  const proc = spawn(process.execPath, [cliPath, 'run'], {
    stdio: ['ignore', 'pipe', 'pipe'], ...asNobody, env: { PATH: process.env.PATH ?? '', XDG_STATE_HOME: state },
  });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => { r(c); }));
  try {
    // Only complete lines: stdout arrives in chunks that may end inside a document.
    const doc = await waitFor('a listener document on stdout', () => out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: { action: string }; ecs: { version: string } })
      .find((d) => d.event.action === 'listening_existing'), 30_000);
    assert.equal(doc.ecs.version, '9.4.0');
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});

test('check-config reports every problem in one run: wrong types, typos, missing files, bad cron', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-check-'));
  const notPem = join(dir, 'not-a-cert.pem');
  writeFileSync(notPem, 'hello\n');
  const file = configFile([
    `state_dir: ${join(dir, 'state')}`,
    'intervall: 2s',
    'events: { process: "yes" }',
    'inventory: { schedule: "every hour" }',
    `detect: { rule_files: [${join(dir, 'missing-rules.yaml')}] }`,
    'outputs:',
    '  - type: syslog',
    '    host: 127.0.0.1',
    '    protocol: tls',
    `    tls: { ca: ${join(dir, 'missing-ca.pem')}, cert: ${notPem}, key: ${notPem} }`,
    '',
  ].join('\n'));
  const r = await cli(['check-config', '--config', file]);
  assert.equal(r.code, 2, r.stderr);
  const expected = [
    /portwarden\.yaml: \(top level\): unknown key "intervall" \(did you mean "interval"\?\)/,
    /portwarden\.yaml: events\.process: expected boolean, got "yes"/,
    /portwarden\.yaml: inventory\.schedule: a cron schedule \(node-cron syntax, e\.g\. "0 \* \* \* \*"\), got "every hour"/,
    /portwarden\.yaml: detect\.rule_files\[0\]: a readable rule file, but cannot read .*missing-rules\.yaml \(ENOENT/,
    /portwarden\.yaml: outputs\[0\]\.tls\.ca: a readable PEM file, but cannot read .*missing-ca\.pem \(ENOENT/,
    /portwarden\.yaml: outputs\[0\]\.tls\.cert: a PEM certificate, but .*not-a-cert\.pem is not one/,
    /portwarden\.yaml: outputs\[0\]\.tls\.key: a PEM private key, but .*not-a-cert\.pem is not one/,
  ];
  for (const re of expected) assert.match(r.stderr, re);
  assert.match(r.stderr, /7 problem\(s\) found/);
  assert.doesNotMatch(r.stderr, /more problem/);

  // The same file checks once the schema passes, plus the rule files compiled.
  const ruleFile = join(dir, 'acme.yaml');
  writeFileSync(ruleFile, 'ruleset: acme\nrules:\n  - id: acme-1\n    name: x\n    severity: high\n    tactic: TA9\n    technique: T1059\n    when: { process.name: sh }\n');
  const valid = configFile(`state_dir: ${join(dir, 'state')}\ndetect: { rule_files: [${ruleFile}] }\noutputs: [{ type: file, path: ${join(dir, 'e.ndjson')} }]\n`);
  const rules = await cli(['check-config', '--config', valid]);
  assert.equal(rules.code, 2, rules.stderr);
  assert.match(rules.stderr, /acme\.yaml: rules\[0\] \(id acme-1\)\.tactic: expected an ATT&CK tactic id like TA0003/);
});

test('data_stream.namespace from the config is in every document `listeners --json` prints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ns-'));
  const file = configFile(`state_dir: ${join(dir, 'state')}\ndata_stream: { namespace: ops_eu }\n`);
  const r = await cli(['listeners', '--json', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  const docs = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { data_stream: { namespace: string }; host: { architecture: string } });
  assert.ok(docs.length > 0);
  for (const d of docs) assert.equal(d.data_stream.namespace, 'ops_eu');
  assert.ok(docs.every((d) => d.host.architecture !== 'x64' && d.host.architecture !== 'arm64'));
});
