import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot } from './paths.js';

/**
 * Runs the Windows collector under wine: Debian's wine64, the Windows node.exe and koffi's Windows
 * binary that scripts/wine-fetch.mjs put in place (nothing is installed here), one throwaway
 * prefix per test file. Wine's console cannot hand node.exe a pipe (EBADF), so standard output and
 * error go to files.
 */
export interface Wine {
  wine: string;
  wineserver: string;
  nodeExe: string;
  versions: { node: string; koffi: string; wine: string };
  prefix: string;
  /** How long the prefix took: a copy of the template wine-fetch made, or wineboot -i + winecfg -v win10. */
  prefixMs: number;
  prefixHow: 'copied from the template' | 'created';
  env: NodeJS.ProcessEnv;
}

export type WineSetup = { ok: true; wine: Wine } | { ok: false; reason: string };

/** Linux path -> the Windows path wine maps it to (drive Z: is the Linux root). */
export const winPath = (p: string): string => `Z:${p.replace(/\//g, '\\')}`;

function onPath(names: readonly string[], extra: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extra];
  for (const n of names) for (const d of dirs) if (d !== '' && existsSync(join(d, n))) return join(d, n);
  return undefined;
}

/** Finds wine and the fetched Windows runtime; creates a fresh prefix (win10). */
export function setUpWine(): WineSetup {
  // Debian's wine64 package (without the `wine` wrapper package) installs here only.
  const wine = onPath(['wine64', 'wine'], ['/usr/lib/wine']);
  const wineserver = onPath(['wineserver64', 'wineserver'], ['/usr/lib/wine']);
  if (wine === undefined || wineserver === undefined) return { ok: false, reason: 'wine64 is not installed (Debian: apt-get install wine64)' };
  const manifestFile = join(repoRoot, '.cache', 'wine', 'manifest.json');
  if (!existsSync(manifestFile)) return { ok: false, reason: 'the Windows node.exe is not fetched (node scripts/wine-fetch.mjs)' };
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { nodeExe: string; node: string; koffi: string; prefixTemplate?: string };
  if (!existsSync(manifest.nodeExe)) return { ok: false, reason: `${manifest.nodeExe} is missing (node scripts/wine-fetch.mjs)` };
  if (!existsSync(join(repoRoot, 'node_modules', '@koromix', 'koffi-win32-x64', 'win32_x64', 'koffi.node'))) {
    return { ok: false, reason: 'koffi\'s Windows binary is not in node_modules (node scripts/wine-fetch.mjs)' };
  }
  const prefix = mkdtempSync(join(tmpdir(), 'pw-wine-prefix-'));
  // Mono and Gecko are not needed (and would ask to be downloaded): mscoree/mshtml disabled.
  const env: NodeJS.ProcessEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  delete env.DISPLAY;
  const t0 = performance.now();
  const template = manifest.prefixTemplate;
  // Hard links for the ~700 MB of DLLs (wine never writes them); real copies of the top-level files
  // wine rewrites in place (registry, timestamps), so the template stays as it was.
  const copied = template !== undefined && existsSync(join(template, 'system.reg'))
    && spawnSync('cp', ['-al', `${template}/.`, prefix], { stdio: 'ignore' }).status === 0;
  if (copied) {
    for (const f of readdirSync(template)) {
      const p = join(prefix, f);
      if (!statSync(p).isFile()) continue;
      rmSync(p);
      copyFileSync(join(template, f), p);
    }
  }
  const steps = copied ? [] : [['wineboot', '-i'], ['winecfg', '-v', 'win10']];
  for (const args of steps) {
    const r = spawnSync(wine, args, { env, stdio: 'ignore', timeout: 300_000 });
    if (r.status !== 0) {
      rmSync(prefix, { recursive: true, force: true });
      return { ok: false, reason: `wine ${args.join(' ')} failed (status ${r.status}, ${r.error?.message ?? r.signal ?? ''})` };
    }
  }
  const prefixMs = performance.now() - t0;
  const ver = spawnSync(wine, ['--version'], { env, encoding: 'utf8' }).stdout.trim();
  return { ok: true, wine: { wine, wineserver, nodeExe: manifest.nodeExe, versions: { node: manifest.node, koffi: manifest.koffi, wine: ver }, prefix, prefixMs, prefixHow: copied ? 'copied from the template' : 'created', env } };
}

/** Runs `node.exe args` to completion; stdout and stderr land in the given files. */
export function runNodeExe(w: Wine, args: readonly string[], files: { stdout: string; stderr: string }, env: NodeJS.ProcessEnv = {}): Promise<number | null> {
  const child = spawnNodeExe(w, args, files, env);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => { resolve(code); });
  });
}

/** Starts `node.exe args` under wine (a Windows process in the prefix). */
export function spawnNodeExe(w: Wine, args: readonly string[], files: { stdout: string; stderr: string }, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const out = openSync(files.stdout, 'w');
  const err = openSync(files.stderr, 'w');
  try {
    return spawn(w.wine, [w.nodeExe, ...args], { env: { ...w.env, ...env }, stdio: ['ignore', out, err] });
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

/** Ends every process of the prefix and removes it. */
export function tearDownWine(w: Wine): void {
  spawnSync(w.wineserver, ['-k'], { env: w.env, stdio: 'ignore', timeout: 60_000 });
  rmSync(w.prefix, { recursive: true, force: true });
}

/** What wine cannot do, so the wine tests cannot check it (also in docs/windows-macos.md). */
export const NOT_UNDER_WINE: readonly string[] = [
  'GetOwnerModuleFrom{Tcp,Tcp6,Udp,Udp6}Entry (wine has no such exports): owning service names (portwarden.listener.service_name)',
  'PowerShell (wine ships a stub powershell.exe that runs nothing): elevation check, Win32_Process command lines and users, Authenticode signatures, the Get-NetTCPConnection/Get-NetUDPEndpoint tier',
  'the firewall: HNetCfg.FwPolicy2 and the NetSecurity cmdlets (both through PowerShell)',
  'netstat -ano owner pids (wine\'s netstat prints no PID column) and service lines (-b)',
  'sockets of Linux processes outside the prefix appear in the IP Helper tables without an owner',
  'WinSW and the service control manager (install.ps1, uninstall.ps1, sc.exe failure actions); ETW',
];
