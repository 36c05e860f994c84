/**
 * The image cannot be built on this machine (a Docker client but no engine), so the Dockerfile is
 * linted for the properties that matter and its pieces (config, health check) are run for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { silentLogger } from '../../../agent/log/logger.js';
import { startMetricsServer } from '../../../agent/pipeline/metrics.js';
import { loadConfig } from '../../../agent/app/config.js';
import { repoRoot } from '../../../testkit/paths.js';
import { deployDir, readDeploy } from './content.js';

interface Instr { op: string; args: string }

function instructions(): Instr[] {
  const text = readDeploy('docker', 'Dockerfile').replace(/\\\n/g, ' ');
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => { const [op = '', ...rest] = l.split(/\s+/); return { op: op.toUpperCase(), args: rest.join(' ') }; });
}

/** The instructions of the last (runtime) stage. */
function finalStage(all: Instr[]): Instr[] {
  const i = all.map((x) => x.op).lastIndexOf('FROM');
  return all.slice(i);
}

test('Dockerfile: node:20-slim, non-root runtime, exec-form entrypoint, a health check, lean layers', () => {
  const all = instructions();
  const froms = all.filter((x) => x.op === 'FROM').map((x) => x.args.split(/\s+/)[0]);
  assert.ok(froms.length >= 2 && froms.every((f) => f === 'node:20-slim'), `base images: ${froms.join(', ')}`);
  const final = finalStage(all);
  const user = final.filter((x) => x.op === 'USER').pop()?.args ?? '';
  assert.match(user, /^[1-9]\d*(:[1-9]\d*)?$/, `runtime USER must be a numeric non-root uid, got "${user}"`);
  const hc = final.find((x) => x.op === 'HEALTHCHECK');
  assert.ok(hc !== undefined, 'no HEALTHCHECK');
  assert.match(hc.args, /CMD \["node", "\/opt\/portwarden\/healthcheck\.mjs"/);
  const entry = final.find((x) => x.op === 'ENTRYPOINT')?.args ?? '';
  assert.deepEqual(JSON.parse(entry), ['node', '/opt/portwarden/dist/agent/cli/bin.js'], 'exec form, so signals reach node');
  assert.ok(!all.some((x) => x.op === 'ADD'), 'COPY, never ADD');
  const runs = all.filter((x) => x.op === 'RUN').map((x) => x.args);
  for (const r of runs.filter((x) => x.includes('apt-get install'))) {
    assert.match(r, /--no-install-recommends/);
    assert.match(r, /rm -rf \/var\/lib\/apt\/lists/);
  }
  assert.ok(runs.some((r) => r.includes('npm ci')) && !runs.some((r) => /npm install\b/.test(r)), 'reproducible installs: npm ci');
  assert.ok(runs.some((r) => /npm prune --omit=dev/.test(r)), 'dev dependencies stay out of the runtime image');
  assert.ok(runs.some((r) => r.includes('iproute2')), 'ss (iproute2) is the fallback listener path');
  // The native addons are built in the build stage and copied with dist/ (dist/native/*.node).
  const build = all.slice(0, all.map((x) => x.op).lastIndexOf('FROM'));
  assert.ok(build.some((x) => x.op === 'RUN' && /apt-get install[^&]*\bgcc\b[^&]*\bg\+\+/.test(x.args)), 'the build stage has gcc and g++');
  const compile = build.find((x) => x.op === 'RUN' && x.args.includes('build-native.mjs'))?.args ?? '';
  assert.match(compile, /npx tsc -p tsconfig\.json && node scripts\/build-native\.mjs/, 'addons are built after tsc, into dist/native');
  assert.ok(final.some((x) => x.op === 'COPY' && /--from=build \/src\/dist \.\/dist/.test(x.args)), 'dist/ (with dist/native) reaches the runtime image');
});

test('every COPY source exists and gets through Dockerfile.dockerignore', () => {
  const ignore = readDeploy('docker', 'Dockerfile.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(ignore[0], '**', 'start from an empty context');
  const allowed = ignore.slice(1).map((p) => {
    assert.ok(p.startsWith('!'), p);
    return p.slice(1).replace(/\/\*\*$/, '');
  });
  const copies = instructions().filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'));
  assert.ok(copies.length > 0);
  for (const c of copies) {
    const parts = c.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      const path = src.replace(/^\.\//, '');
      assert.ok(existsSync(join(repoRoot, path)), `COPY ${src}: not in the repository`);
      assert.ok(allowed.some((a) => path === a || path.startsWith(`${a}/`)), `COPY ${src} is excluded by the .dockerignore`);
    }
  }
});

test('the image\'s default config validates and its metrics address is the one the health check asks', () => {
  const { config } = loadConfig(join(deployDir, 'docker', 'portwarden.yml'), {});
  const hc = finalStage(instructions()).find((x) => x.op === 'HEALTHCHECK')?.args ?? '';
  assert.ok(config.metrics.listen !== undefined && hc.includes(`http://${config.metrics.listen}/metrics`), hc);
});

function runCheck(url: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(deployDir, 'docker', 'healthcheck.mjs'), url], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

test('healthcheck.mjs passes on the agent\'s real metrics endpoint and fails otherwise', async (t) => {
  const stats = () => ({ received: 3, dropped: {}, lost: 0, outputs: [] });
  const { server, port } = await startMetricsServer('127.0.0.1:0', stats, silentLogger);
  t.after(() => { server.close(); });
  assert.equal(await runCheck(`http://127.0.0.1:${port}/metrics`), 0);
  const other = createServer((_req, res) => { res.end('hello'); });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.after(() => { other.close(); });
  assert.equal(await runCheck(`http://127.0.0.1:${(other.address() as AddressInfo).port}/metrics`), 1, 'not portwarden');
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => { resolve(); }));
  assert.equal(await runCheck(`http://127.0.0.1:${closedPort}/metrics`), 1, 'nothing listening');
});
