// The same V8 heap setting as the agent (agent/cli/bin.ts), so in-process measurements match it.
import '../agent/runtime/heap-tuning.js';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderTable } from './harness.js';
import type { Bench } from './harness.js';

// Runs every `*.bench.js` next to this file (or those named on the command line) and prints tables.
const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: Bench };
  console.log(`\n## ${f.replace(/\.bench\.js$/, '')}\n`);
  for (const table of await mod.default()) console.log(renderTable(table) + '\n');
}
