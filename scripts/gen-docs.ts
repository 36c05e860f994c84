// `npm run docs`: rewrites the generated sections of README.md from the code (config schema,
// CLI help, ECS documents). A test fails when the README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedSections, updateReadme } from '../agent/docs/generate.js';
import { repoRoot } from '../testkit/paths.js';

const file = join(repoRoot, 'README.md');
writeFileSync(file, updateReadme(readFileSync(file, 'utf8'), await generatedSections()));
console.log('README.md generated sections updated');
