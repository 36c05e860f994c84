// What each rule regex costs on a hostile command line: `npm run build && node scripts/regex-cost.mjs [RULES...]`
// (default: config/rules and ../shared/sigma). Loads the rules as `rules check` does, records every
// regex compiled, and times each on 32 KiB texts built to make it backtrack (its own literals
// repeated, spaces, backslashes ...): as V8 runs it, and as the agent's matcher runs it (literals
// and [\s\S]* only, i.e. Sigma wildcards: indexOf, agent/detect/wildcard-match.ts). A regex still
// running after 3 s is stopped (its worker is terminated) and counted.
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const paths = process.argv.length > 2 ? process.argv.slice(2) : [join(root, 'config', 'rules'), join(root, '..', 'shared', 'sigma')];
const seen = new Map();
const Orig = RegExp;
globalThis.RegExp = new Proxy(Orig, {
  construct(target, args) {
    const re = Reflect.construct(target, args);
    seen.set(`${re.flags}\u0000${re.source}`, { source: re.source, flags: re.flags });
    return re;
  },
});
const { checkRules } = await import(pathToFileURL(join(root, 'dist', 'agent', 'detect', 'check.js')).href);
const before = seen.size;
const report = checkRules(paths);
globalThis.RegExp = Orig;
const list = [...seen.values()].slice(before);
console.log(`${report.loaded} rules loaded from ${report.files} files; ${list.length} regexes compiled`);

const workerSrc = `
const { parentPort, workerData } = require('node:worker_threads');
const N = 32 * 1024;
const fill = (s) => (s.length === 0 ? '' : s.repeat(Math.ceil(N / s.length)).slice(0, N));
let wm;
parentPort.on('message', async ({ source, flags, agent }) => {
  wm ??= await import(workerData.wildcard);
  const re = new RegExp(source, flags);
  const w = agent ? wm.parseWildcard(source, flags) : undefined;
  const test = w === undefined ? (v) => re.test(v) : wm.wildcardTest(w, flags === 'i');
  const lits = source.replace(/\\\\[dDwWsSbB]/g, ' ').replace(/\\\\(.)/g, '$1').replace(/[\\^$.*+?()[\\]{}|]/g, ' ');
  const runs = lits.split(/\\s+/).filter((x) => x.length >= 2);
  const chars = [...new Set(lits.replace(/\\s/g, ''))].join('');
  let max = 0;
  for (const t of [fill('a'), fill(' '), fill('a '), fill(chars), fill(runs.join(' ') + ' '), fill(runs.join('')), fill('\\\\'), fill('-a ')]) {
    const t0 = performance.now();
    test(t);
    max = Math.max(max, performance.now() - t0);
  }
  parentPort.postMessage({ ms: max, wildcard: w !== undefined });
});`;
const wildcard = pathToFileURL(join(root, 'dist', 'agent', 'detect', 'wildcard-match.js')).href;
let worker;
const spawn = () => { worker = new Worker(workerSrc, { eval: true, workerData: { wildcard } }); };
spawn();
async function time(item, agent) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { void worker.terminate(); spawn(); resolve({ ms: Number.POSITIVE_INFINITY, wildcard: false }); }, 3000);
    worker.once('message', (m) => { clearTimeout(timer); resolve(m); });
    worker.postMessage({ ...item, agent });
  });
}
for (const agent of [false, true]) {
  const rows = [];
  for (const item of list) rows.push({ ...item, ...(await time(item, agent)) });
  rows.sort((a, b) => b.ms - a.ms);
  const over = (ms) => rows.filter((r) => r.ms > ms).length;
  console.log(`\n${agent ? 'as the agent matches' : 'as V8 runs them'}: over 50 ms ${over(50)}, over 500 ms ${over(500)}, stopped at 3 s ${over(3000)}${agent ? `; ${rows.filter((r) => r.wildcard).length} run as wildcard patterns` : ''}`);
  for (const r of rows.slice(0, 8)) console.log(`  ${Number.isFinite(r.ms) ? r.ms.toFixed(1) : '>3000'} ms  /${r.source.slice(0, 100)}/${r.flags}`);
}
await worker.terminate();
