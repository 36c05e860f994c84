// `run` reads its config and rule files in a worker thread so that zod and yaml never load into the
// agent's isolate. The worker must answer exactly what the in-process read gives, errors included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { prepareStartup } from '../../../../agent/cli/startup.js';
import { prepareStartupIsolated } from '../../../../agent/cli/startup-isolated.js';
import { buildRule } from '../../../../agent/detect/rules.js';
import { ConfigError } from '../../../../agent/util/errors.js';
import { repoRoot } from '../../../helpers/paths.js';

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-startup-')), 'portwarden.yaml');
  writeFileSync(file, text);
  return file;
}

test('the worker returns the same config (env interpolated) and rules as the in-process read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-startup-rules-'));
  writeFileSync(join(dir, 'acme.yaml'), 'ruleset: acme\nrules:\n  - id: acme-1\n    name: web server spawns a shell\n    severity: high\n    tactic: TA0003\n    technique: T1505.003\n    when: { process.parent.name: [nginx, httpd], process.name: [sh, bash] }\n');
  const file = configFile(`outputs: [{ type: file, path: "\${PW_STARTUP_OUT}" }]\ndetect: { rule_files: [${join(dir, 'acme.yaml')}] }\n`);
  const env = { PW_STARTUP_OUT: join(dir, 'events.ndjson') };
  const isolated = await prepareStartupIsolated(file, env);
  assert.deepEqual(isolated, prepareStartup(file, env));
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

test("run's module graph has no static path to zod or yaml (they load in the start-up worker only)", () => {
  const start = join(repoRoot, 'dist', 'agent', 'cli', 'main.js');
  const seen = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start];
  const hits: string[] = [];
  const chain = (f: string | undefined): string => {
    const out: string[] = [];
    for (let cur = f; cur !== undefined; cur = seen.get(cur)) out.unshift(cur.slice(repoRoot.length + 1));
    return out.join(' -> ');
  };
  // main.js loads commands with import(); run.js is the command that stays resident.
  queue.push(join(repoRoot, 'dist', 'agent', 'cli', 'commands', 'run.js'));
  seen.set(queue[1] ?? '', start);
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    const src = readFileSync(f, 'utf8');
    // tsc drops type-only imports: what is left in dist/ is what node loads.
    for (const m of src.matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)';|^import\s+'([^']+)';/gm)) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec === 'zod' || spec === 'yaml' || spec.startsWith('zod/')) hits.push(`${spec}: ${chain(f)}`);
      if (!spec.startsWith('.')) continue;
      const next = resolve(dirname(f), spec);
      if (!seen.has(next)) {
        seen.set(next, f);
        queue.push(next);
      }
    }
  }
  assert.ok(seen.size > 50, `walked ${seen.size} modules`);
  assert.deepEqual(hits, []);
});
