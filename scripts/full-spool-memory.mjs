// Memory and stop time of `portwarden run` while its only output is down and the spool is full
// (when_full: block), under process churn: `npm run build && node scripts/full-spool-memory.mjs [seconds]`.
// Prints the agent's RSS every 15 s, then stops it with SIGTERM and prints the exit code, how long
// the stop took and the log's `stopping:` lines. Run as root (the real-time source needs it).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const seconds = Number(process.argv[2] ?? 240);
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'agent', 'cli', 'bin.js');
const dir = mkdtempSync(join(tmpdir(), 'pw-full-spool-'));
// A loopback port nothing listens on: the SIEM is down.
const s = createServer();
await new Promise((resolve) => { s.listen(0, '127.0.0.1', resolve); });
const { port } = s.address();
await new Promise((resolve) => { s.close(resolve); });
writeFileSync(join(dir, 'portwarden.yaml'), [
  `state_dir: ${join(dir, 'state')}`, `log: { level: info, file: ${join(dir, 'agent.log')} }`,
  'outputs:', `  - type: http`, `    url: http://127.0.0.1:${port}/events`,
  'events: { process: true }', 'detect: { enabled: false }', 'spool: { max_bytes: 1MiB }', '',
].join('\n'));
const agent = spawn(process.execPath, [cli, 'run', '--config', join(dir, 'portwarden.yaml')], { stdio: ['ignore', 'ignore', 'inherit'] });
const churn = [1, 2].map(() => spawn('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' }));
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
for (let t = 15; t <= seconds; t += 15) {
  await sleep(15_000);
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))?.[1];
  console.log(`${t} s: RSS ${(Number(rss) / 1024).toFixed(1)} MB`);
}
const t0 = Date.now();
agent.kill('SIGTERM');
const code = await new Promise((r) => { agent.once('exit', r); });
console.log(`SIGTERM: exit ${code} after ${Date.now() - t0} ms`);
for (const c of churn) c.kill('SIGKILL');
for (const l of readFileSync(join(dir, 'agent.log'), 'utf8').split('\n')) {
  if (/stopping|longer than/.test(l)) console.log(`  ${JSON.parse(l).message}`);
}
rmSync(dir, { recursive: true, force: true });
