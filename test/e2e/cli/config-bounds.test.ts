// Config values and files a careless or hostile hand could give the agent: each is refused with
// exit 2 by `run` and by `check-config` alike, naming the file and the key path, and quickly (a
// FIFO without a writer, /dev/zero, an alias bomb: none may hang or eat memory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../../../testkit/paths.js';

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  // Far above a refusal's time: a case that hangs or fills memory fails here instead of after minutes.
  const timer = setTimeout(() => { proc.kill('SIGKILL'); }, 30_000);
  return new Promise((resolve) => proc.once('exit', (code, signal) => {
    clearTimeout(timer);
    resolve({ code: code ?? (signal === null ? null : -1), stderr });
  }));
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `depth` levels of anchors, each an alias list of the previous: 9^depth strings once expanded. */
function aliasBomb(depth: number): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= depth; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

test('config bounds: out-of-range values and unusable files are refused with exit 2 by run and check-config, naming the file and key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bounds-'));
  const state = join(dir, 'state');
  const base = `state_dir: ${state}\ndetect: { enabled: false }\noutputs: [{ type: file, path: ${join(dir, 'ev.ndjson')} }]\n`;
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const directory = join(dir, 'a-directory.yaml');
  mkdirSync(directory);
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(5 * 1024 * 1024)}\n`);
  const bombRules = join(dir, 'bomb-rules.yaml');
  writeFileSync(bombRules, aliasBomb(9));

  // [name, config text or an existing path, key path, what the message says]
  const cases: [string, { yaml: string } | { path: string }, string, RegExp][] = [
    ['a poll interval of years', { yaml: 'interval: 3650d\n' }, 'interval', /expected at most 1h, got "3650d"/],
    ['a learning window of a year', { yaml: 'detect: { baseline: { learning: 365d } }\n' }, 'detect.baseline.learning', /expected at most 24d/],
    ['an fsync interval of an hour', { yaml: 'spool: { fsync_interval: 1h }\n' }, 'spool.fsync_interval', /expected at most 1m/],
    ['a backoff ceiling in ms past the timer maximum', { yaml: 'outputs: [{ type: stdout, retry: { max: 9999999999 } }]\n' }, 'outputs[0].retry.max', /expected at most 1h, got 9999999999/],
    ['a spool cap of 5000 GiB', { yaml: 'spool: { max_bytes: 5000GiB }\n' }, 'spool.max_bytes', /expected at most 1TiB/],
    ['port 99999 for metrics', { yaml: 'metrics: { listen: "127.0.0.1:99999" }\n' }, 'metrics.listen', /a port from 0 to 65535/],
    ['port 0 for a kafka broker', { yaml: 'outputs: [{ type: kafka, brokers: ["k1:0"], topic: t }]\n' }, 'outputs[0].brokers[0]', /a port from 1 to 65535/],
    ['port 99999 for syslog', { yaml: 'outputs: [{ type: syslog, host: 127.0.0.1, port: 99999 }]\n' }, 'outputs[0].port', /65535/],
    ['an empty state_dir', { yaml: 'state_dir: ""\n' }, 'state_dir', /an absolute directory path .*empty value/],
    ['a relative state_dir', { yaml: 'state_dir: var/state\n' }, 'state_dir', /relative path "var\/state"/],
    ['a state_dir under /proc', { yaml: 'state_dir: /proc/self/pw\n' }, 'state_dir', /under \/proc/],
    ['a YAML alias bomb', { yaml: aliasBomb(9) }, '(top level)', /YAML aliases that expand to more than 100 copies/],
    ['an alias bomb in a rule file', { yaml: `detect: { enabled: true, rule_files: [${bombRules}] }\n` }, '', new RegExp(`${esc(bombRules)}: \\(top level\\): YAML aliases that expand to more than 100 copies`)],
    ['/dev/zero as a rule file', { yaml: 'detect: { enabled: true, rule_files: [/dev/zero] }\n' }, '', /\/dev\/zero: \(top level\): cannot read the rule file \(\/dev\/zero is not a regular file/],
    ['/dev/zero as the config', { path: '/dev/zero' }, '(top level)', /cannot read the config file \(\/dev\/zero is not a regular file/],
    ['a FIFO as the config', { path: fifo }, '(top level)', /is not a regular file/],
    ['a directory as the config', { path: directory }, '(top level)', /is a directory, not a file/],
    ['a 5 MiB config', { path: big }, '(top level)', /big\.yaml is 5,242,883 bytes, larger than 4 MiB, the most such a file may hold/],
  ];
  const failures: string[] = [];
  const one = async ([name, input, key, expected]: (typeof cases)[number], i: number): Promise<void> => {
    let file: string;
    if ('path' in input) {
      file = input.path;
    } else {
      file = join(dir, `case-${i}.yaml`);
      const keys = new Set([...input.yaml.matchAll(/^(\w+):/gm)].map((m) => m[1]));
      writeFileSync(file, base.split('\n').filter((l) => !keys.has(/^(\w+):/.exec(l)?.[1])).join('\n') + input.yaml);
    }
    for (const cmd of ['run', 'check-config']) {
      const r = await cli([cmd, '--config', file]);
      const named = key === '' ? /: configuration error: / : new RegExp(`: configuration error: ${esc(file)}: ${esc(key)}: `);
      if (r.code !== 2 || !named.test(r.stderr) || !expected.test(r.stderr)) {
        failures.push(`${name} (${cmd}): exit ${String(r.code)}: ${r.stderr.trim().slice(0, 400)}`);
      }
    }
  };
  // Four at a time: a loaded CI machine has two cores.
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < cases.length) {
      const i = next++;
      await one(cases[i] as (typeof cases)[number], i);
    }
  }));
  assert.deepEqual(failures, []);
});
