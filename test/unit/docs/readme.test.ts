import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedSections, updateReadme } from '../../../agent/docs/generate.js';
import { loadConfig } from '../../../agent/app/config.js';
import { repoRoot } from '../../../testkit/paths.js';
import type { ExampleSnapshot } from '../../../agent/docs/examples.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

const examples = JSON.parse(readFileSync(join(repoRoot, 'docs', 'examples', 'host-snapshot.json'), 'utf8')) as ExampleSnapshot;

test('README generated sections (CLI, config, ECS fields, example events) match the code; run `npm run docs`', async () => {
  assert.equal(updateReadme(readme, await generatedSections(examples)), readme);
});

test('README gives the two quick-start commands and CI runs its test command', () => {
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
  const ci = readFileSync(join(repoRoot, '.ci', 'run'), 'utf8');
  assert.match(ci, /^npm test$/m);
});

test('npm start runs the same entry point as the portwarden bin, and it exists after a build', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { portwarden: string }; scripts: { start: string } };
  assert.equal(pkg.scripts.start, 'exec node scripts/start.mjs');
  const start = readFileSync(join(repoRoot, 'scripts', 'start.mjs'), 'utf8');
  assert.match(start, new RegExp(`join\\(root, ${pkg.bin.portwarden.split('/').map((p) => `'${p}'`).join(', ')}\\), 'run'`));
  assert.ok(readFileSync(join(repoRoot, pkg.bin.portwarden), 'utf8').includes('main(process.argv.slice(2)'));
});

test('the shipped example config is valid', () => {
  const { config, outputNames } = loadConfig(join(repoRoot, 'config', 'portwarden.example.yaml'), {});
  assert.ok(outputNames.length >= 2);
  assert.equal(config.interval, 1000);
});
