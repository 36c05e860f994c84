import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { cliPath } from '../../../testkit/paths.js';

// SigmaHQ rules beyond the ../shared/sigma snapshot (macOS, emerging threats, threat hunting,
// placeholders, deprecated) must load about as well as the snapshot does. PORTWARDEN_SIGMAHQ names
// a SigmaHQ checkout (or export of one); without it the test is skipped, as the corpus test over
// ../shared/sigma is without that directory.
const CHECKOUT = process.env.PORTWARDEN_SIGMAHQ ?? '';
const FOLDERS = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-placeholder', 'rules-compliance', 'deprecated'];
const CATEGORIES = new Set(['process_creation', 'network_connection']);
const PRODUCTS = new Set(['linux', 'windows', 'macos']);

const run = promisify(execFile);
interface Report { rules: number; loaded: number; invalid: { file: string; reason: string }[] }

function ymlUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? ymlUnder(p) : /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** The rules of the categories and products the agent runs (by their logsource). */
function selected(folder: string): string[] {
  return ymlUnder(folder).filter((f) => {
    const docs = parseAllDocuments(readFileSync(f, 'utf8'));
    const ls = (Array.isArray(docs) ? docs : [docs]).map((d) => (d.toJS() as { logsource?: { category?: unknown; product?: unknown } } | null)?.logsource).find((l) => l !== undefined);
    return ls !== undefined && CATEGORIES.has(String(ls.category)) && PRODUCTS.has(String(ls.product));
  });
}

async function check(files: string[]): Promise<Report> {
  // Exit 3 (some unsupported) rejects; the report is on stdout either way.
  const res = await run(process.execPath, [cliPath, 'rules', 'check', ...files, '--json'], { maxBuffer: 64 * 1024 * 1024 })
    .catch((err: unknown) => err as { stdout: string });
  return JSON.parse(res.stdout) as Report;
}

test('rules check over a SigmaHQ checkout (PORTWARDEN_SIGMAHQ): every folder\'s process_creation and network_connection rules, no invalid rule, at least 95 % load (the floor of ../shared/sigma)', { skip: (CHECKOUT === '' || !existsSync(join(CHECKOUT, 'rules'))) && 'PORTWARDEN_SIGMAHQ names no SigmaHQ checkout' }, async () => {
  let rules = 0;
  let loaded = 0;
  const rates: string[] = [];
  for (const name of FOLDERS) {
    const folder = join(CHECKOUT, name);
    if (!existsSync(folder)) continue;
    const files = selected(folder);
    if (files.length === 0) continue;
    const r = await check(files);
    assert.equal(r.invalid.length, 0, `${name}: ${JSON.stringify(r.invalid.slice(0, 3).map((i) => ({ ...i, file: relative(CHECKOUT, i.file) })))}`);
    rates.push(`${name} ${r.loaded}/${r.rules}`);
    // Folders large enough for a rate to mean something keep the floor of each one too.
    if (r.rules >= 50) assert.ok(r.loaded / r.rules >= 0.9, `${name}: ${r.loaded}/${r.rules} loaded`);
    rules += r.rules;
    loaded += r.loaded;
  }
  assert.ok(rules >= 1000, `${rules} rules found (${rates.join(', ')})`);
  assert.ok(loaded / rules >= 0.95, `${loaded}/${rules} loaded (${rates.join(', ')})`);
});
