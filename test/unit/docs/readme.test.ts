import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedSections, updateReadme } from '../../../agent/docs/generate.js';
import { loadConfig } from '../../../config/loader.js';
import { repoRoot } from '../../helpers/paths.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

test('README generated sections (CLI, config, ECS fields) match the code; run `npm run docs`', () => {
  assert.equal(updateReadme(readme, generatedSections()), readme);
});

test('README gives the two quick-start commands and CI runs its test command', () => {
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
  const ci = readFileSync(join(repoRoot, '.ci', 'run'), 'utf8');
  assert.match(ci, /^npm test$/m);
});

test('the shipped example config is valid', () => {
  const { config, outputNames } = loadConfig(join(repoRoot, 'config', 'portwarden.example.yaml'), {});
  assert.ok(outputNames.length >= 2);
  assert.equal(config.interval, 1000);
});
