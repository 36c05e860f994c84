// `run` reads its config and rule files in a worker thread so that zod and yaml never load into the
// agent's isolate. The worker must answer exactly what the in-process read gives, errors included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { prepareStartup } from '../../../../agent/app/startup.js';
import { prepareStartupIsolated } from '../../../../agent/app/startup-isolated.js';
import { buildRule } from '../../../../agent/detect/rules.js';
import { ConfigError } from '../../../../agent/util/errors.js';
import { repoRoot } from '../../../../testkit/paths.js';

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-startup-')), 'portwarden.yaml');
  writeFileSync(file, text);
  return file;
}

test('the worker returns the same config (env interpolated) and rules as the in-process read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-startup-rules-'));
  writeFileSync(join(dir, 'acme.yaml'), 'ruleset: acme\nrules:\n  - id: acme-1\n    name: web server spawns a shell\n    severity: high\n    tactic: TA0003\n    technique: T1505.003\n    when: { process.parent.name: [nginx, httpd], process.name: [sh, bash] }\n');
  // A Sigma rule, found through a path relative to the config file.
  writeFileSync(join(dir, 'sigma.yml'), 'title: Shell from a web server\nid: sigma-web-shell\nlogsource: { category: process_creation, product: linux }\ndetection:\n  sel: { ParentImage|endswith: [/nginx], Image|endswith: [/sh] }\n  condition: sel\nlevel: high\ntags: [attack.persistence, attack.t1505.003]\n');
  writeFileSync(join(dir, 'portwarden.yaml'), `outputs: [{ type: file, path: "\${PW_STARTUP_OUT}" }]\ndetect: { rule_files: [${join(dir, 'acme.yaml')}, sigma.yml] }\n`);
  const file = join(dir, 'portwarden.yaml');
  const env = { PW_STARTUP_OUT: join(dir, 'events.ndjson') };
  const isolated = await prepareStartupIsolated(file, env);
  assert.equal(isolated.workerError, undefined);
  assert.deepEqual(isolated, prepareStartup(file, env));
  assert.ok(isolated.rules.some((r) => r.spec.id === 'sigma-web-shell' && r.ruleset === 'sigma'));
  assert.equal(isolated.loaded.config.outputs[0]?.path, env.PW_STARTUP_OUT);
  const ids = isolated.rules.map((r) => r.spec.id);
  assert.ok(ids.includes('acme-1'));
  assert.ok(ids.length > 10, 'built-in packs too');
  // Built in the agent's isolate from the worker's plain data.
  const acme = isolated.rules.map(buildRule).find((d) => d.meta.id === 'acme-1');
  assert.ok(acme !== undefined);
  assert.equal(acme.meta.ruleset, 'acme');
  assert.deepEqual([acme.meta.threat.technique.id, acme.meta.threat.subtechnique?.id], ['T1505', 'T1505.003']);
});

test('a config error from the worker is a ConfigError with the same file, key path and expectation', async () => {
  const file = configFile('interval: 5 minutes\n');
  const inProcess = (() => {
    try {
      prepareStartup(file, {});
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  assert.ok(inProcess instanceof ConfigError);
  await assert.rejects(prepareStartupIsolated(file, {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual([err.file, err.keyPath, err.expected, err.message], [inProcess.file, inProcess.keyPath, inProcess.expected, inProcess.message]);
    assert.equal(err.keyPath, 'interval');
    return true;
  });
  // Without a config: the embedded default, detection with the built-in packs.
  const embedded = await prepareStartupIsolated(undefined, {});
  assert.equal(embedded.loaded.file, '(embedded default)');
  assert.ok(embedded.rules.length > 10);
});

test('if the worker fails, the reads happen in-process and the reason is handed back for the log', async () => {
  const file = configFile('interval: 2s\n');
  const r = await prepareStartupIsolated(file, {}, new URL('./no-such-worker.js', import.meta.url));
  assert.match(r.workerError ?? '', /no-such-worker|Cannot find module/);
  const { workerError: _ignored, ...startup } = r;
  assert.deepEqual(startup, prepareStartup(file, {}));
  assert.equal(startup.loaded.config.interval, 2000);
});

test("run's module graph reaches zod or yaml only through the start-up worker's in-process fallback", () => {
  const cli = join(repoRoot, 'dist', 'agent', 'cli');
  // Dynamic import()s are followed too (the transport registry, platform sources), except the command
  // table's (only run.js stays resident, added below) and the fallbacks that run the workers' code.
  const notFollowed = new Set([join(cli, 'commands', 'index.js'), join(repoRoot, 'dist', 'agent', 'app', 'startup-isolated.js'),
    join(repoRoot, 'dist', 'agent', 'policy', 'validate-isolated.js')]);
  const start = join(cli, 'main.js');
  const seen = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start, join(cli, 'commands', 'run.js')];
  seen.set(join(cli, 'commands', 'run.js'), start);
  const hits: string[] = [];
  const chain = (f: string | undefined): string => {
    const out: string[] = [];
    for (let cur = f; cur !== undefined; cur = seen.get(cur)) out.unshift(cur.slice(repoRoot.length + 1));
    return out.join(' -> ');
  };
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    const src = readFileSync(f, 'utf8');
    // tsc drops type-only imports: what is left in dist/ is what node loads.
    const found = [...src.matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)';|^import\s+'([^']+)';/gm)].map((m) => m[1] ?? m[2] ?? '');
    if (!notFollowed.has(f)) found.push(...[...src.matchAll(/\bimport\('([^']+)'\)/g)].map((m) => m[1] ?? ''));
    for (const spec of found) {
      if (spec === 'zod' || spec === 'yaml' || spec.startsWith('zod/')) hits.push(`${spec}: ${chain(f)}`);
      if (!spec.startsWith('.')) continue;
      const next = resolve(dirname(f), spec);
      if (!seen.has(next)) {
        seen.set(next, f);
        queue.push(next);
      }
    }
  }
  assert.ok(seen.has(join(repoRoot, 'dist', 'transports', 'kafka', 'create.js')), 'the registry\'s lazily loaded transports are walked');
  assert.ok(seen.size > 50, `walked ${seen.size} modules`);
  assert.deepEqual(hits, []);
});
