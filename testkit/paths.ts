import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

/** The repository root (works from dist/ too). */
export const repoRoot = findRoot();
/** A path under test/fixtures. */
export const fixture = (...parts: string[]): string => join(repoRoot, 'test', 'fixtures', ...parts);
/** The compiled CLI entry point. */
export const cliPath = join(repoRoot, 'dist', 'agent', 'cli', 'bin.js');
/** ../shared next to the repository (research fixtures, evalset), when present. */
export const sharedDir = join(repoRoot, '..', 'shared');
