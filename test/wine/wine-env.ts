import { after, before } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../../testkit/paths.js';
import { waitFor } from '../../testkit/wait.js';
import { runNodeExe, setUpWine, spawnNodeExe, tearDownWine, winPath, type Wine } from '../../testkit/wine.js';

/**
 * What the wine test files share: each file gets its own prefix (a copy of the template
 * scripts/wine-fetch.mjs made), removed at its end. Skipped, saying why, where wine or the fetched
 * Windows runtime is absent.
 */
const setup = setUpWine();
export const skip = setup.ok ? false : `wine tests skipped: ${setup.reason}`;
export let w: Wine;
export let dir: string;

// Parent mode starts a child (itself, child mode) and writes its own pid; the child opens TCP and
// UDP listeners on port 0 for IPv4 and IPv6, writes what it got, and ends when the stop file appears.
const LISTENER = `
const fs = require('fs'), net = require('net'), dgram = require('dgram'), cp = require('child_process');
const [out, stop, mode] = process.argv.slice(2);
const write = (f, v) => { fs.writeFileSync(f + '.tmp', JSON.stringify(v)); fs.renameSync(f + '.tmp', f); };
if (mode === 'parent') {
  const c = cp.spawn(process.execPath, [__filename, out, stop, 'child'], { stdio: 'ignore' });
  write(out + '.parent', { pid: process.pid });
  c.on('exit', () => process.exit(0));
} else {
  const got = { pid: process.pid, ppid: process.ppid, errors: {} };
  const tcp = (k, host) => new Promise((res) => { const s = net.createServer(); s.on('error', (e) => { got.errors[k] = e.message; res(); }); s.listen(0, host, () => { got[k] = s.address().port; res(); }); });
  const udp = (k, type, host) => new Promise((res) => { const s = dgram.createSocket(type); s.on('error', (e) => { got.errors[k] = e.message; res(); }); s.bind(0, host, () => { got[k] = s.address().port; res(); }); });
  Promise.all([tcp('tcp4', '127.0.0.1'), tcp('tcp6', '::1'), udp('udp4', 'udp4', '127.0.0.1'), udp('udp6', 'udp6', '::1')]).then(() => {
    write(out, got);
    setInterval(() => { if (fs.existsSync(stop)) process.exit(0); }, 100);
  });
}
`;

export interface Opened { pid: number; ppid: number; tcp4?: number; tcp6?: number; udp4?: number; udp6?: number; errors: Record<string, string> }
export type Doc = Record<string, unknown> & { event: { action: string }; server: { port: number }; network: { transport: string; type: string } };
export const procOf = (d: Doc) => d.process as { pid?: number; name?: string; parent?: { pid?: number; name?: string } } | undefined;

/** Starts parent + child listener processes under wine; resolves when the child has bound. */
export async function startListener(name: string): Promise<{ opened: Opened; parent: number; stop: () => void }> {
  const script = join(dir, 'listener.cjs');
  if (!existsSync(script)) writeFileSync(script, LISTENER);
  const out = join(dir, `${name}.json`);
  const stopFile = join(dir, `${name}.stop`);
  spawnNodeExe(w, [winPath(script), winPath(out), winPath(stopFile), 'parent'], { stdout: join(dir, `${name}.out`), stderr: join(dir, `${name}.err`) });
  const opened = await waitFor(`${name} listeners`, () => existsSync(out) && JSON.parse(readFileSync(out, 'utf8')) as Opened, 120_000, 100);
  const parent = (JSON.parse(readFileSync(`${out}.parent`, 'utf8')) as { pid: number }).pid;
  return { opened, parent, stop: () => { writeFileSync(stopFile, ''); } };
}

export async function cli(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const files = { stdout: join(dir, `${name}.out`), stderr: join(dir, `${name}.err`) };
  const code = await runNodeExe(w, [winPath(cliPath), ...args], files, env);
  return { code, stdout: readFileSync(files.stdout, 'utf8'), stderr: readFileSync(files.stderr, 'utf8') };
}

/** NDJSON documents; a last line without its newline (the agent is still writing it) is left for the next read. */
export const docs = (text: string): Doc[] => {
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Doc);
};
export const expected = (o: Opened) => (['tcp4', 'tcp6', 'udp4', 'udp6'] as const).filter((k) => o[k] !== undefined).map((k) => ({ k, port: o[k]! }));
export const matches = (d: Doc, k: string, port: number) => d.server.port === port && d.network.transport === k.slice(0, 3) && d.network.type === (k.endsWith('6') ? 'ipv6' : 'ipv4');

/** Registers the prefix's set-up and tear-down for the calling test file. */
export function useWine(): void {
  before(() => {
    if (!setup.ok) return;
    w = setup.wine;
    dir = mkdtempSync(join(tmpdir(), 'pw-wine-'));
    // Also when the runner ends this file early (a timeout): no wine process or prefix outlives it.
    process.once('exit', () => { tearDownWine(w); rmSync(dir, { recursive: true, force: true }); });
  });
  after(() => {
    if (!setup.ok) return;
    tearDownWine(w);
    rmSync(dir, { recursive: true, force: true });
  });
}
